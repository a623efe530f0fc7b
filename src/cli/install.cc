// plumb install kubernetes: the manifests that run the operator inside a cluster. Two
// replicas by default; --leader-elect on a Lease makes one of them reconcile at a time.
#include <iostream>

#include "cli/commands.h"

namespace plumb::cli {

int CmdInstallKubernetes(const InstallOptions& o) {
  const std::string& ns = o.ns;
  std::cout << "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " << ns << "\n"
            << "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: plumbline\n"
            << "  namespace: " << ns
            << "\n"
            // A GitOps operator applies whatever kinds git declares: it needs every verb on
            // every resource, as Argo CD's and Flux's controllers have.
            << "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n"
            << "  name: plumbline\nrules:\n- apiGroups: [\"*\"]\n  resources: [\"*\"]\n"
            << "  verbs: [\"*\"]\n- nonResourceURLs: [\"*\"]\n  verbs: [\"get\"]\n"
            << "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\n"
            << "metadata:\n  name: plumbline\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n"
            << "  kind: ClusterRole\n  name: plumbline\nsubjects:\n- kind: ServiceAccount\n"
            << "  name: plumbline\n  namespace: " << ns << "\n"
            << "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n"
            << "  name: plumbline-leader-election\n  namespace: " << ns << "\nrules:\n"
            << "- apiGroups: [coordination.k8s.io]\n  resources: [leases]\n"
            << "  verbs: [get, create, update]\n"
            << "---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata:\n"
            << "  name: plumbline-leader-election\n  namespace: " << ns << "\nroleRef:\n"
            << "  apiGroup: rbac.authorization.k8s.io\n  kind: Role\n"
            << "  name: plumbline-leader-election\nsubjects:\n- kind: ServiceAccount\n"
            << "  name: plumbline\n  namespace: " << ns << "\n"
            << "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: plumbline\n"
            << "  namespace: " << ns << "\n  labels: {app.kubernetes.io/name: plumbline}\n"
            << "spec:\n  replicas: " << o.replicas << "\n  selector:\n"
            << "    matchLabels: {app.kubernetes.io/name: plumbline}\n  template:\n"
            << "    metadata:\n      labels: {app.kubernetes.io/name: plumbline}\n    spec:\n"
            << "      serviceAccountName: plumbline\n      containers:\n      - name: plumb\n"
            << "        image: " << o.image << "\n"
            << "        args: [run, --repo, \"" << o.repo << "\", --branch, \"" << o.branch
            << "\", --path, \"" << o.path << "\", --listen, \"0.0.0.0:7420\", --state-dir, "
            << "/var/lib/plumbline, --leader-elect]\n"
            << "        env:\n        - name: POD_NAME\n          valueFrom:\n"
            << "            fieldRef: {fieldPath: metadata.name}\n"
            << "        ports:\n        - {name: http, containerPort: 7420, protocol: TCP}\n"
            << "        readinessProbe:\n          httpGet: {path: /healthz, port: http}\n"
            << "        volumeMounts:\n        - {name: state, mountPath: /var/lib/plumbline}\n"
            << "      volumes:\n      - name: state\n        emptyDir: {}\n"
            << "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: plumbline\n"
            << "  namespace: " << ns << "\nspec:\n  selector: {app.kubernetes.io/name: plumbline}\n"
            << "  ports:\n  - {name: http, port: 7420, targetPort: http, protocol: TCP}\n";
  return 0;
}

}  // namespace plumb::cli
