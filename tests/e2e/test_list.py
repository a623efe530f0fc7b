"""GET /api/v1/applications: pages in name order, filters, and the list's item shape."""
import json
import unittest

from harness import E2E, app_yaml, file_yaml


class ListTest(E2E):
    def test_pages_follow_continue_and_filters_apply_before_the_limit(self):
        names = [f"c{i}" for i in range(7)]
        self.repo.write("root/apps.yaml", "---\n".join(app_yaml(n, f"apps/{n}") for n in names))
        for n in names:
            self.repo.write(f"apps/{n}/f.yaml", file_yaml(n, f"{n}.txt", "x\n"))
        c1 = self.repo.commit("seven children")
        op = self.operator(path="root")
        for n in names:
            op.wait_synced(n, c1)

        seen, after, pages = [], "", 0
        while True:
            code, page = op.api("GET", "/api/v1/applications?limit=3" +
                                (f"&continue={after}" if after else ""))
            self.assertEqual(code, 200, page)
            self.assertLessEqual(len(page["items"]), 3)
            seen += [a["name"] for a in page["items"]]
            pages += 1
            after = page["continue"]
            if not after:
                break
            self.assertEqual(after, seen[-1])
        self.assertEqual(seen, sorted(names + ["root"]))
        self.assertEqual(pages, 3)
        item = op.api("GET", "/api/v1/applications?name=c3")[1]["items"]
        self.assertEqual([a["name"] for a in item], ["c3"])
        self.assertEqual(item[0]["status"]["resourceCount"], 1)
        self.assertEqual(item[0]["status"]["resourceSummary"],
                         {"sync": {"Synced": 1}, "health": {"Healthy": 1}})
        self.assertNotIn("resources", item[0]["status"])
        self.assertEqual(item[0]["spec"]["source"]["path"], "apps/c3")
        # A filter applies before the limit: the page holds matches only.
        code, page = op.api("GET", "/api/v1/applications?sync=Synced&limit=2&continue=c4")
        self.assertEqual([a["name"] for a in page["items"]], ["c5", "c6"])
        self.assertEqual(page["continue"], "c6")  # root, Synced too, is on the next page
        page = op.api("GET", "/api/v1/applications?sync=Synced&limit=2&continue=c6")[1]
        self.assertEqual(([a["name"] for a in page["items"]], page["continue"]), (["root"], ""))
        # limit=0 is a page of one, not an error; a name past the end gives nothing.
        self.assertEqual(len(op.api("GET", "/api/v1/applications?limit=0")[1]["items"]), 1)
        self.assertEqual(op.api("GET", "/api/v1/applications?continue=zzz")[1],
                         {"items": [], "continue": ""})
        # The CLI lists the same.
        out = json.loads(op.cli("status", "-o", "json").stdout)
        self.assertEqual(sorted(a["name"] for a in out["items"]), sorted(names + ["root"]))

    def test_one_application_pages_and_filters_its_resources(self):
        # An Application with many resources is read a page at a time, or only its
        # counts, as a list of Applications shows them.
        files = [file_yaml(f"f{i}", f"f{i}.txt", f"{i}\n") for i in range(5)]
        self.repo.write("root/files.yaml", "---\n".join(files))
        c1 = self.repo.commit("five files")
        op = self.operator(path="root")
        op.wait_synced("root", c1)

        code, full = op.api("GET", "/api/v1/applications/root")
        self.assertEqual(code, 200, full)
        st = full["status"]
        names = [r["name"] for r in st["resources"]]
        self.assertEqual(names, [f"f{i}" for i in range(5)])
        self.assertEqual(st["resources"][0]["origin"], "root/files.yaml:1")
        self.assertEqual((st["resourceCount"], st["resourceSummary"]),
                         (5, {"sync": {"Synced": 5}, "health": {"Healthy": 5}}))
        self.assertNotIn("resourcesMatched", st)  # no filter

        page = op.api("GET", "/api/v1/applications/root?offset=1&limit=2")[1]["status"]
        self.assertEqual(page["resources"], st["resources"][1:3])
        self.assertEqual((page["resourceCount"], page["resourcesMatched"]), (5, 5))
        page = op.api("GET", "/api/v1/applications/root?offset=4&limit=2")[1]["status"]
        self.assertEqual([r["name"] for r in page["resources"]], ["f4"])
        page = op.api("GET", "/api/v1/applications/root?sync=OutOfSync")[1]["status"]
        self.assertEqual((page["resources"], page["resourcesMatched"]), ([], 0))
        page = op.api("GET", "/api/v1/applications/root?sync=Synced&health=Healthy&limit=1")[1]
        self.assertEqual(page["status"]["resources"], st["resources"][:1])
        self.assertEqual(page["status"]["resourcesMatched"], 5)
        # Paging from the start says how many rows there are to page through.
        page = op.api("GET", "/api/v1/applications/root?offset=0")[1]["status"]
        self.assertEqual((len(page["resources"]), page["resourcesMatched"]), (5, 5))
        # A value that is not what the parameter takes is refused, not read as "all".
        for query in ("offset=-1", "limit=ten", "offset=", "resources=no",
                      "resources=false&sync=Synced", "limit=9999999999"):
            code, err = op.api("GET", "/api/v1/applications/root?" + query)
            self.assertEqual(code, 400, (query, err))
        code, err = op.api("GET", "/api/v1/applications/root?limit=x")
        self.assertIn("limit=x: must be a whole number", err["error"])
        # resources=false: everything but the rows.
        bare = op.api("GET", "/api/v1/applications/root?resources=false")[1]
        self.assertNotIn("resources", bare["status"])
        self.assertEqual(set(bare["status"]), set(st) - {"resources"})
        for key in ("sync", "health", "appliedCommit", "resourceCount", "resourceSummary"):
            self.assertEqual(bare["status"][key], st[key], key)
        self.assertEqual(bare["spec"], full["spec"])
        self.assertEqual(op.api("GET", "/api/v1/applications/nope")[0], 404)

        # The CLI: the table lists every row as before; --summary counts; --sync filters.
        out = op.cli("status", "root").stdout
        self.assertIn("KIND", out)
        for n in names:
            self.assertRegex(out, rf"File\s+{n}\s+Synced\s+Healthy")
        out = op.cli("status", "root", "--summary").stdout
        self.assertIn("Resources:       5 (Synced 5; Healthy 5)", out)
        self.assertNotIn("KIND", out)
        # --summary shows no rows, so a row filter beside it is refused, not dropped.
        bad = op.cli("status", "root", "--summary", "--health", "Degraded", check=False)
        self.assertEqual(bad.returncode, 2, bad)
        self.assertIn("does not go with --sync or --health", bad.stderr)
        out = json.loads(op.cli("status", "root", "-o", "json", "--sync", "OutOfSync").stdout)
        self.assertEqual(out["status"]["resources"], [])
        out = json.loads(op.cli("status", "root", "-o", "json").stdout)
        self.assertEqual(len(out["status"]["resources"]), 5)


if __name__ == "__main__":
    unittest.main()
