#!/bin/bash
# watch_gitsync: the config dir is git-sync's --link (issue 5, Watching).
# git-sync v4 lays out ROOT/.worktrees/<commit> and ROOT/<link> ->
# .worktrees/<commit>; a sync checks out the new commit into a new worktree,
# creates a temporary symlink, renames it over the link, then removes the
# old worktree. plumbd runs with --config-dir ROOT/link. Each flip must
# converge exactly once and the old worktree's removal must prune nothing;
# the commit hash is the revision to record in status and history.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }

GS_ROOT=$LAB_TMP/git
H1=3f1c0a2b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f41
H2=8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a92
H3=c0ffee0123456789abcdef0123456789abcdef03
mkdir -p "$GS_ROOT/.worktrees/$H1"
cp "$CONF"/*.yml "$GS_ROOT/.worktrees/$H1/"
ln -s ".worktrees/$H1" "$GS_ROOT/link"
CONF=$GS_ROOT/link # plumbd_run / plumbd_daemon use it

# git_sync HASH SRC : publish SRC's files as commit HASH, git-sync's way.
git_sync() {
    local new=$1 src=$2 old
    old=$(readlink "$GS_ROOT/link")
    mkdir -p "$GS_ROOT/.worktrees/$new"            # git worktree add
    cp "$src"/* "$GS_ROOT/.worktrees/$new/"
    ln -s ".worktrees/$new" "$GS_ROOT/tmp-link"    # os.Symlink(target, tmp-link)
    mv -T "$GS_ROOT/tmp-link" "$GS_ROOT/link"      # os.Rename(tmp-link, link)
    rm -rf "${GS_ROOT:?}/$old"                     # remove the old worktree
}

plumbd_daemon
watch_ready || exit 1

SRC=$LAB_TMP/src
mkdir "$SRC"
cp "$GS_ROOT/.worktrees/$H1"/*.yml "$SRC/"
POD2=${P}pod2
lab_netns "$POD2"

# --- commit 2 adds a pod -------------------------------------------------------
watch_pod_doc pod2 "$POD2" 192.168.255.101 >"$SRC/pod2.yml"
sleep 0.5
watch_mark
git_sync "$H2" "$SRC"
watch_expect "git-sync: link flip to a commit adding a pod" 1 "" 10 \
    has_addr "$POD2" net1 192.168.255.101/24
assert_eq "git-sync: old worktree removed" 0 "$(ls -d "$GS_ROOT/.worktrees/$H1" 2>/dev/null | wc -l)"

# The revision of the source: the commit hash from the link target.
hist=$(plumbd_run history -o json 2>&1)
st=$(plumbd_run status -o json 2>&1; cat "$STATE"/status/* 2>/dev/null)
if grep -q "$H2" <<<"$hist"; then
    ok "git-sync: commit $H2 recorded in history"
    diag "history: $(printf '%s' "$hist" | tr -d '\n' | grep -o '"source"[^,}]*' | head -n 1)"
else
    not_ok "git-sync: commit recorded in history" "no $H2 in 'history -o json'"
    printf '%s\n' "$hist" | tail -c 400 | sed 's/^/#   /'
fi
if grep -q "$H2" <<<"$st"; then
    ok "git-sync: commit $H2 recorded in status"
else
    not_ok "git-sync: commit recorded in status" "no $H2 in 'status -o json' nor status files"
    plumbd_run status -o json 2>&1 | grep -o '"[a-z_]*":' | sort -u | tr '\n' ' ' | sed 's/^/#   status keys: /'
    echo
fi

# --- commit 3 changes nothing plumbd reads (a README) ---------------------------
echo "docs only" >"$SRC/README.md"
watch_mark
git_sync "$H3" "$SRC"
watch_expect "git-sync: flip to a commit with the same objects" 0 "" 5 true
assert_eq "seed pod still Available" Available "$(plumbd_status_field default/multus-demo 3)"
proc_alive "$DAEMON_PID" && ok "daemon still running" || not_ok "daemon still running" "it exited" "$DAEMON_LOG"

lab_done
