#!/bin/bash
# package_deploy: the Kubernetes manifests in examples/deploy/ parse as YAML
# (libyaml, through a small helper compiled here), the ConfigMap's data
# equals examples/*.yml byte for byte and passes `plumbd validate`, the
# checked-in ConfigMap is what `make deploy-configmap` generates, and the
# DaemonSets carry what a node daemon needs (hostNetwork, spec.nodeName,
# a ConfigMap directory mount without subPath, /run/netns and the state dir
# as hostPath, NET_ADMIN + SYS_ADMIN, the git-sync emptyDir).
set -uo pipefail
. "$(dirname "$0")/../lib/lab.sh"
lab_init
D=$LAB_ROOT/examples/deploy

# --- helper: YAML -> "D<doc>.<path>=<value>" lines; ConfigMap data -> files
cat >"$LAB_TMP/yflat.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <yaml.h>
static const char *outdir;
static void put(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n') fputs("\\n", stdout); else putchar(s[i]);
}
static void walk(yaml_document_t *d, yaml_node_t *n, const char *path) {
    char p[1024];
    if (n->type == YAML_SCALAR_NODE) {
        printf("%s=", path);
        put((const char *)n->data.scalar.value, n->data.scalar.length);
        putchar('\n');
    } else if (n->type == YAML_SEQUENCE_NODE) {
        int i = 0;
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
            snprintf(p, sizeof(p), "%s.%d", path, i);
            walk(d, yaml_document_get_node(d, *it), p);
        }
    } else if (n->type == YAML_MAPPING_NODE) {
        if (n->data.mapping.pairs.start == n->data.mapping.pairs.top)
            printf("%s={}\n", path);
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yaml_document_get_node(d, pr->key);
            snprintf(p, sizeof(p), "%s.%s", path, k->type == YAML_SCALAR_NODE ? (char *)k->data.scalar.value : "?");
            walk(d, yaml_document_get_node(d, pr->value), p);
        }
    }
}
static yaml_node_t *get(yaml_document_t *d, yaml_node_t *m, const char *key) {
    if (!m || m->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(d, pr->key);
        if (k->type == YAML_SCALAR_NODE && strcmp((char *)k->data.scalar.value, key) == 0)
            return yaml_document_get_node(d, pr->value);
    }
    return NULL;
}
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    outdir = argc > 2 ? argv[2] : NULL;
    FILE *f = fopen(argv[1], "rb");
    if (!f) { perror(argv[1]); return 1; }
    yaml_parser_t y;
    yaml_parser_initialize(&y);
    yaml_parser_set_input_file(&y, f);
    for (int i = 0;; i++) {
        yaml_document_t d;
        if (!yaml_parser_load(&y, &d)) {
            fprintf(stderr, "%s:%zu:%zu: %s\n", argv[1], y.problem_mark.line + 1,
                    y.problem_mark.column + 1, y.problem ? y.problem : "parse error");
            return 1;
        }
        yaml_node_t *root = yaml_document_get_root_node(&d);
        if (!root) { yaml_document_delete(&d); break; }
        char p[16];
        snprintf(p, sizeof(p), "D%d", i);
        walk(&d, root, p);
        yaml_node_t *kind = get(&d, root, "kind"), *data = get(&d, root, "data");
        if (outdir && kind && kind->type == YAML_SCALAR_NODE &&
            strcmp((char *)kind->data.scalar.value, "ConfigMap") == 0 && data &&
            data->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *pr = data->data.mapping.pairs.start; pr < data->data.mapping.pairs.top; pr++) {
                yaml_node_t *k = yaml_document_get_node(&d, pr->key), *v = yaml_document_get_node(&d, pr->value);
                char fn[1024];
                snprintf(fn, sizeof(fn), "%s/%s", outdir, (char *)k->data.scalar.value);
                FILE *o = fopen(fn, "wb");
                if (!o || fwrite(v->data.scalar.value, 1, v->data.scalar.length, o) != v->data.scalar.length) return 1;
                fclose(o);
            }
        }
        yaml_document_delete(&d);
    }
    yaml_parser_delete(&y);
    fclose(f);
    return 0;
}
EOF
if ! cc -std=gnu11 -o "$LAB_TMP/yflat" "$LAB_TMP/yflat.c" $(pkg-config --cflags --libs yaml-0.1 2>/dev/null || echo -lyaml) 2>"$LAB_TMP/cc.err"; then
    not_ok "yaml helper builds" "cc failed (libyaml-dev missing? run make deps)" "$LAB_TMP/cc.err"
    exit 1
fi

# --- every manifest parses --------------------------------------------------
for f in "$D"/*.yaml; do
    if "$LAB_TMP/yflat" "$f" >"$LAB_TMP/${f##*/}.flat" 2>"$LAB_TMP/parse.err"; then
        ok "${f##*/} parses as YAML"
    else
        not_ok "${f##*/} parses as YAML" "libyaml error" "$LAB_TMP/parse.err"
    fi
done
# The helper can fail: a broken document is reported.
printf 'a: [1, 2\nb: c\n' >"$LAB_TMP/broken.yaml"
expect_fail "a broken manifest is detected" "$LAB_TMP/yflat" "$LAB_TMP/broken.yaml"

flat() { cat "$LAB_TMP/$1.flat"; }
has() { # NAME FILE REGEX
    assert_match "$1" "$3" "$(flat "$2")"
}

# --- the ConfigMap holds the seed files, byte for byte ---------------------
mkdir -p "$LAB_TMP/cm"
"$LAB_TMP/yflat" "$D/configmap.yaml" "$LAB_TMP/cm" >/dev/null 2>&1
has "ConfigMap is plumbd-desired in plumbd-system" configmap.yaml '^D0\.metadata\.name=plumbd-desired$'
n_seed=0
for f in "$LAB_ROOT"/examples/*.yml; do
    n_seed=$((n_seed + 1))
    if cmp -s "$f" "$LAB_TMP/cm/${f##*/}"; then
        ok "ConfigMap data ${f##*/} equals examples/${f##*/}"
    else
        not_ok "ConfigMap data ${f##*/} equals examples/${f##*/}" "differs or missing (run make deploy-configmap)"
        diff "$f" "$LAB_TMP/cm/${f##*/}" 2>&1 | head -n 10 | sed 's/^/#   /'
    fi
done
assert_eq "ConfigMap holds exactly the seed files" "$n_seed" "$(ls "$LAB_TMP/cm" | wc -l)"
out=$("$PLUMBD" validate "$LAB_TMP/cm" 2>&1); rc=$?
assert_eq "plumbd validate accepts the ConfigMap's data" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | tail -n 10 | sed 's/^/#   /'
assert_match "validate counted the seed objects" "^$n_seed objects valid, 0 invalid, 0 errors" "$out"

# The checked-in ConfigMap is the generator's output.
if sh "$D/gen-configmap.sh" "$LAB_ROOT"/examples/*.yml >"$LAB_TMP/cm.gen" 2>"$LAB_TMP/gen.err" &&
    cmp -s "$LAB_TMP/cm.gen" "$D/configmap.yaml"; then
    ok "configmap.yaml is up to date with examples/*.yml"
else
    not_ok "configmap.yaml is up to date with examples/*.yml" "run make deploy-configmap" "$LAB_TMP/gen.err"
fi
# The generator keeps odd endings exact (no final newline, blank lines kept).
printf 'a: 1\n\nb: 2' >"$LAB_TMP/nonl.yml"
printf 'c: 3\n\n\n' >"$LAB_TMP/many.yml"
mkdir -p "$LAB_TMP/cm2"
sh "$D/gen-configmap.sh" "$LAB_TMP/nonl.yml" "$LAB_TMP/many.yml" >"$LAB_TMP/cm2.yaml" &&
    "$LAB_TMP/yflat" "$LAB_TMP/cm2.yaml" "$LAB_TMP/cm2" >/dev/null 2>&1
if cmp -s "$LAB_TMP/nonl.yml" "$LAB_TMP/cm2/nonl.yml" && cmp -s "$LAB_TMP/many.yml" "$LAB_TMP/cm2/many.yml"; then
    ok "generator round-trips files without or with extra final newlines"
else
    not_ok "generator round-trips files without or with extra final newlines" "bytes differ"
fi
printf '  indented: first line\n' >"$LAB_TMP/ind.yml"
expect_fail "generator refuses content it cannot keep exact" sh "$D/gen-configmap.sh" "$LAB_TMP/ind.yml"

# --- the DaemonSets ----------------------------------------------------------
for ds in daemonset.yaml daemonset-git-sync.yaml; do
    has "$ds: a DaemonSet" $ds '^D0\.kind=DaemonSet$'
    has "$ds: hostNetwork" $ds '^D0\.spec\.template\.spec\.hostNetwork=true$'
    has "$ds: node name from spec.nodeName" $ds \
        '^D0\.spec\.template\.spec\.containers\.[0-9]+\.env\.[0-9]+\.valueFrom\.fieldRef\.fieldPath=spec\.nodeName$'
    has "$ds: --node-name from the env" $ds \
        '^D0\.spec\.template\.spec\.containers\.[0-9]+\.args\.[0-9]+=--node-name=\$\(NODE_NAME\)$'
    has "$ds: /run/netns as hostPath" $ds '^D0\.spec\.template\.spec\.volumes\.[0-9]+\.hostPath\.path=/run/netns$'
    has "$ds: /run/netns propagates from the host" $ds \
        '\.volumeMounts\.[0-9]+\.mountPropagation=HostToContainer$'
    has "$ds: state dir as hostPath" $ds '^D0\.spec\.template\.spec\.volumes\.[0-9]+\.hostPath\.path=/var/lib/plumbd$'
    has "$ds: adds NET_ADMIN" $ds '\.securityContext\.capabilities\.add\.[0-9]+=NET_ADMIN$'
    has "$ds: adds SYS_ADMIN" $ds '\.securityContext\.capabilities\.add\.[0-9]+=SYS_ADMIN$'
    assert_no_match "$ds: not privileged" '\.privileged=true$' "$(flat $ds)"
    assert_no_match "$ds: no subPath mounts" '\.subPath=' "$(flat $ds)"
    assert_no_match "$ds: no API token" 'automountServiceAccountToken=true' "$(flat $ds)"
    has "$ds: runs the daemon" $ds '^D0\.spec\.template\.spec\.containers\.[0-9]+\.args\.[0-9]+=run$'
done
has "daemonset.yaml: config from the ConfigMap volume" daemonset.yaml \
    '^D0\.spec\.template\.spec\.volumes\.[0-9]+\.configMap\.name=plumbd-desired$'
has "daemonset.yaml: mounted as the config dir" daemonset.yaml \
    '\.volumeMounts\.[0-9]+\.mountPath=/etc/plumbd/desired.d$'
g=$(flat daemonset-git-sync.yaml)
assert_match "git-sync: an emptyDir volume" '^D0\.spec\.template\.spec\.volumes\.[0-9]+\.emptyDir' "$g"
assert_match "git-sync: a git-sync sidecar" '^D0\.spec\.template\.spec\.containers\.[0-9]+\.image=registry\.k8s\.io/git-sync/git-sync:' "$g"
n_git=$(printf '%s\n' "$g" | grep -Ec '^D0\.spec\.template\.spec\.(init)?[cC]ontainers\.[0-9]+\.volumeMounts\.[0-9]+\.name=git$')
assert_eq "git-sync: init, sidecar and plumbd share the emptyDir" 3 "$n_git"
link=$(printf '%s\n' "$g" | sed -n 's/^D0\.spec\.template\.spec\.containers\.[0-9]*\.env\.[0-9]*\.value=current$/current/p' | head -n 1)
assert_eq "git-sync: publishes the link 'current'" current "$link"
assert_match "git-sync: plumbd reads the link" '\.args\.[0-9]+=--config-dir=/git/current$' "$g"

lab_done
