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


if __name__ == "__main__":
    unittest.main()
