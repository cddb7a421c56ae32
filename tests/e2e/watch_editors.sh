#!/bin/bash
# watch_editors: editors and tools writing a desired-state file in place
# (issue 5, Watching): vim's default save, emacs' save, `sed -i`, rsync's
# temp-name-then-rename, a file removed and put back within the settle
# delay, a touch. Each step reproduces the tool's sequence of file
# operations literally in the config dir of a running daemon (default
# --settle-ms 200); a step that adds a pod must converge exactly once, one
# that changes nothing not at all, and none may prune the seed pod or br-1.
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
lab_seed || { not_ok lab "could not build the lab"; exit 1; }
F=$CONF/multus-demo.yml

# new_content NAME IP : the current file plus a pod document (its netns made).
new_content() {
    lab_netns "${P}$1" || return 1
    { cat "$F"; echo "---"; watch_pod_doc "$1" "${P}$1" "$2"; } >"$LAB_TMP/$1.yml"
    sleep 0.5 # the netns event's pass (no ops) is over
}
# slow_write DEST SRC : write SRC into DEST in 4 chunks, 20 ms apart.
slow_write() {
    local size chunk i
    size=$(stat -c %s "$2"); chunk=$(((size + 3) / 4))
    : >"$1"
    for i in 0 1 2 3; do
        dd if="$2" of="$1" bs="$chunk" skip="$i" seek="$i" count=1 conv=notrunc status=none
        sleep 0.02
    done
}

plumbd_daemon
watch_ready || exit 1

# --- vim :w (backupcopy=auto, writebackup, regular file) ----------------------
new_content vim 192.168.255.103
watch_mark
printf 'b0VIM 9.0\0' >"$CONF/.multus-demo.yml.swp" # editing starts: swap file
sleep 0.3
: >"$CONF/4913"; rm -f "$CONF/4913"                # can we create files here?
mv "$F" "$F~"                                      # backup by rename
slow_write "$F" "$LAB_TMP/vim.yml"                 # the new file
chmod 644 "$F"
rm -f "$F~"                                        # writebackup deleted
sleep 0.3
rm -f "$CONF/.multus-demo.yml.swp"                 # :q
watch_expect "vim save" 1 "" 10 has_addr "${P}vim" net1 192.168.255.103/24

# --- the real vim, when there is one: :w then :q -------------------------------
if command -v vim >/dev/null; then
    new_content realvim 192.168.255.108
    { echo "---"; watch_pod_doc realvim "${P}realvim" 192.168.255.108; } >"$LAB_TMP/realvim-doc.yml"
    watch_mark
    vim -u NONE -i NONE -N -es -c "set backupcopy=auto writebackup" \
        -c "\$r $LAB_TMP/realvim-doc.yml" -c w -c q "$F" </dev/null >/dev/null 2>&1
    watch_expect "real vim :w" 1 "" 10 has_addr "${P}realvim" net1 192.168.255.108/24
else
    skip "real vim :w" "no vim installed; the sequence above reproduces it"
fi

# --- emacs C-x C-s (first save of the session: backup by rename) ----------------
new_content emacs 192.168.255.104
watch_mark
ln -s "root@worker-1.4242:1795800000" "$CONF/.#multus-demo.yml" # lock on first change
cp "$LAB_TMP/emacs.yml" "$CONF/#multus-demo.yml#"                # auto-save
sleep 0.3
mv "$F" "$F~"                                      # backup-by-copying nil
slow_write "$F" "$LAB_TMP/emacs.yml"               # write-region
rm -f "$CONF/#multus-demo.yml#"                    # auto-save file deleted
rm -f "$CONF/.#multus-demo.yml"                    # unlocked: buffer unmodified
watch_expect "emacs save" 1 "" 10 has_addr "${P}emacs" net1 192.168.255.104/24
[ -e "$F~" ] && ok "emacs backup multus-demo.yml~ left in place (ignored)"

# --- sed -i (GNU sed: ./sedXXXXXX in the same dir, renamed over) ---------------
new_content sed 192.168.255.105
{ echo "---"; watch_pod_doc sed "${P}sed" 192.168.255.105; } >"$LAB_TMP/sed-doc.yml"
watch_mark
sed -i -e "\$r $LAB_TMP/sed-doc.yml" "$F"
watch_expect "sed -i" 1 "" 10 has_addr "${P}sed" net1 192.168.255.105/24

# --- rsync (writes .multus-demo.yml.XXXXXX, sets mtime, renames) ---------------
new_content rsync 192.168.255.106
watch_mark
T=$CONF/.multus-demo.yml.Xq3Zr1
slow_write "$T" "$LAB_TMP/rsync.yml"
touch -d '2026-11-27 10:00:00' "$T"
chmod 644 "$T"
mv -T "$T" "$F"
watch_expect "rsync temp rename" 1 "" 10 has_addr "${P}rsync" net1 192.168.255.106/24

# --- removed and put back within the settle delay (same content) ---------------
cp "$F" "$LAB_TMP/saved.yml"
watch_mark
rm -f "$F"; sleep 0.05; cp "$LAB_TMP/saved.yml" "$F"
watch_expect "removed and re-added within the settle delay" 0 "" 5 true

# --- removed and put back changed within the settle delay ------------------------
new_content back 192.168.255.107
watch_mark
rm -f "$F"; sleep 0.05; cp "$LAB_TMP/back.yml" "$F"
watch_expect "removed and re-added with a change" 1 "" 10 has_addr "${P}back" net1 192.168.255.107/24

# --- touch: same content, nothing to plan -------------------------------------
watch_mark
touch "$F" "$CONF/node.yml"
watch_expect "touch" 0 "" 5 true

for p in multus-demo vim emacs sed rsync back $(command -v vim >/dev/null && echo realvim); do
    assert_eq "pod $p Available" Available "$(plumbd_status_field "default/$p" 3)"
done
proc_alive "$DAEMON_PID" && ok "daemon still running" || not_ok "daemon still running" "it exited" "$DAEMON_LOG"

lab_done
