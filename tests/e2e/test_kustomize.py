"""A kustomize overlay in git is rendered by the real kubectl kustomize and applied."""
import shutil
import unittest

from harness import E2E


@unittest.skipIf(shutil.which("kubectl") is None, "kubectl (with kustomize) is not installed")
class KustomizeTest(E2E):
    def test_overlay_is_rendered_and_applied(self):
        self.repo.write("base/kustomization.yaml", "resources:\n- files.yaml\n")
        self.repo.write("base/files.yaml",
                        "apiVersion: local.plumbline.dev/v1\nkind: File\nmetadata:\n  name: conf\n"
                        "spec:\n  path: conf.txt\n  content: base\n")
        self.repo.write("overlays/staging/kustomization.yaml",
                        "resources:\n- ../../base\nnamePrefix: staging-\npatches:\n"
                        "- target: {kind: File, name: conf}\n  patch: |-\n"
                        "    - op: replace\n      path: /spec/content\n      value: staging\n")
        c1 = self.repo.commit("base and overlay")
        op = self.operator(path="overlays/staging")
        op.wait_synced("root", c1)
        self.assertEqual(self.read("conf.txt"), "staging")
        names = [r["name"] for r in op.status("root")["status"]["resources"]]
        self.assertEqual(names, ["staging-conf"])

    def test_remote_base_is_refused(self):
        self.repo.write("app/kustomization.yaml",
                        "resources:\n- https://github.com/example/repo//base?ref=v1\n")
        self.repo.commit("remote base")
        op = self.operator(path="app")
        from harness import wait_until
        st = wait_until(lambda: op.status("root")["status"]["lastError"], what="refusal")
        self.assertIn("app/kustomization.yaml", st)
        self.assertIn("remote", st)


if __name__ == "__main__":
    unittest.main()
