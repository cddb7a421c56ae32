#!/bin/bash
# reconcile_status: `plumbd status` (table), `-o json`, `-o yaml` and the files
# under <state-dir>/status/ name the same objects with the same condition and
# reason, with Available, Pending and Failing objects present; the seed Pod's
# status carries its Multus-style networkStatus (issue 3, "Status and show").
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
# a Pending pod (missing NAD) and a Failing pod (address outside the subnet)
lab_netns "${P}p2"
lab_pod pending-pod "${P}p2" '[{"name":"no-such-nad"}]' >"$CONF/pending.yml"
lab_netns "${P}p3"
lab_pod failing-pod "${P}p3" '[{"name":"linux-bridge-br-1","ips":["10.1.2.3/24"]}]' >"$CONF/failing.yml"

out=$(plumbd_run apply 2>&1); rc=$?
assert_eq "apply with a pending and a failing pod exits 1" 1 "$rc"

plumbd_run status >"$LAB_TMP/status.txt" 2>/dev/null
plumbd_run status -o json >"$LAB_TMP/status.json" 2>/dev/null; rc=$?
assert_eq "status -o json exits 0" 0 "$rc"
plumbd_run status -o yaml >"$LAB_TMP/status.yaml" 2>/dev/null; rc=$?
assert_eq "status -o yaml exits 0" 0 "$rc"
expect "status -o json parses" python3 -m json.tool "$LAB_TMP/status.json"

# normalise each source to sorted "Kind ns/name condition reason" lines
norm() { # SOURCE
    python3 - "$1" "$LAB_TMP" "$STATE/status" <<'EOP'
import glob, json, sys, yaml
src, tmp, sdir = sys.argv[1:4]
def key(o):
    c = o.get("condition") or {}
    n = (o["namespace"] + "/" if o.get("namespace") else "") + o["name"]
    return "%s %s %s %s" % (o["kind"], n, c.get("type"), c.get("reason"))
if src == "json":
    objs = json.load(open(tmp + "/status.json"))
elif src == "yaml":
    objs = [d for d in yaml.safe_load_all(open(tmp + "/status.yaml")) if d]
elif src == "files":
    objs = [yaml.safe_load(open(f)) for f in sorted(glob.glob(sdir + "/*.yaml"))]
else:
    rows = [line.split() for line in open(tmp + "/status.txt").read().splitlines()[1:]]
    for r in sorted("%s %s %s %s" % tuple(f[:4]) for f in rows if len(f) >= 4):
        print(r)
    sys.exit(0)
for k in sorted(key(o) for o in objs):
    print(k)
EOP
}
t=$(norm table)
j=$(norm json)
y=$(norm yaml)
f=$(norm files)
diag "status: $(echo $j)"
assert_eq "json names 5 objects" 5 "$(printf '%s\n' "$j" | grep -c .)"
assert_match "json: seed pod Available" '^Pod default/multus-demo Available ' "$j"
assert_match "json: pending pod Pending" '^Pod default/pending-pod Pending NetworkAttachmentDefinitionMissing$' "$j"
assert_match "json: failing pod Failing" '^Pod default/failing-pod Failing ' "$j"
assert_eq "yaml agrees with json" "$j" "$y"
assert_eq "status files agree with json" "$j" "$f"
assert_eq "table agrees with json" "$j" "$t"

# every object carries its file, revision and last transition time
expect "json: every object has file, revision, lastTransitionTime" python3 -c '
import json, sys
for o in json.load(open(sys.argv[1])):
    c = o.get("condition") or {}
    assert o.get("file") and o.get("revision") and c.get("lastTransitionTime"), o
' "$LAB_TMP/status.json"

# networkStatus of the seed pod, in json, yaml and its status file
ns_check() { # SOURCE-FILE LOADER
    python3 - "$1" "$2" <<'EOP'
import json, sys, yaml
path, how = sys.argv[1:3]
if how == "json":
    objs = json.load(open(path))
elif how == "yaml":
    objs = [d for d in yaml.safe_load_all(open(path)) if d]
else:
    objs = [yaml.safe_load(open(path))]
pod = [o for o in objs if o.get("kind") == "Pod" and o.get("name") == "multus-demo"]
assert len(pod) == 1, "no single multus-demo Pod"
ns = pod[0].get("networkStatus")
if isinstance(ns, str):
    ns = json.loads(ns)
net1 = [n for n in ns if n.get("interface") == "net1"]
assert len(net1) == 1, "no net1 in %r" % ns
n = net1[0]
assert n.get("ips") == ["192.168.255.100"], "ips %r" % n.get("ips")
assert n.get("mac") == "c2:b0:57:49:47:f1", "mac %r" % n.get("mac")
assert n.get("name") in ("default/linux-bridge-br-1", "linux-bridge-br-1"), "name %r" % n.get("name")
EOP
}
expect "json: pod networkStatus net1 192.168.255.100 c2:b0:57:49:47:f1" ns_check "$LAB_TMP/status.json" json
expect "yaml: pod networkStatus net1 192.168.255.100 c2:b0:57:49:47:f1" ns_check "$LAB_TMP/status.yaml" yaml
podfile=$(grep -l 'name: "\{0,1\}multus-demo"\{0,1\}$' "$STATE"/status/*.yaml | head -n 1)
if [ -n "$podfile" ]; then
    expect "status file: pod networkStatus net1 192.168.255.100 c2:b0:57:49:47:f1" ns_check "$podfile" file
else
    not_ok "status file of the seed pod" "none under $STATE/status"
fi
# no leftover temp files from atomic writes
stray=""
for f in "$STATE"/status/* "$STATE"/status/.[!.]*; do
    [ -e "$f" ] || continue
    case $f in *.yaml) ;; *) stray+="${f##*/} " ;; esac
done
assert_eq "status dir holds only *.yaml files" "" "$stray"

# a removed object disappears from every view
rm -f "$CONF/failing.yml"
plumbd_run apply >/dev/null 2>&1
plumbd_run status -o json >"$LAB_TMP/status.json" 2>/dev/null
plumbd_run status -o yaml >"$LAB_TMP/status.yaml" 2>/dev/null
plumbd_run status >"$LAB_TMP/status.txt" 2>/dev/null
j=$(norm json)
assert_no_match "removed pod gone from json" 'failing-pod' "$j"
assert_eq "after removal: yaml agrees with json" "$j" "$(norm yaml)"
assert_eq "after removal: status files agree with json" "$j" "$(norm files)"
assert_eq "after removal: table agrees with json" "$j" "$(norm table)"

lab_done
