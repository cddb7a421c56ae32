/* schema.h - a small JSON Schema interpreter over the loader's ynode trees.
 *
 * The schemas are the schema/ files (NAME.yaml), compiled into the binary (embedded.h), so
 * the files an editor or kubeconform reads are the ones plumbd enforces.
 *
 * Supported keywords (draft-07 subset): type (string, integer, number,
 * boolean, null, object, array, or a list of them), properties, required,
 * additionalProperties (false or a schema), enum, pattern (POSIX extended
 * regex), minimum, maximum, minLength, maxLength, items (a schema, or a list
 * for tuples, with additionalItems), minItems, maxItems, anyOf, oneOf,
 * if/then/else, * $ref ("#/definitions/x" in the same file, "file.yaml#/..." in another
 * embedded file), contentMediaType "application/json" with contentSchema (a
 * string holding JSON, as NAD spec.config and the Pod networks annotation).
 * Everything else (title, description, default, examples, ...) is ignored.
 *
 * plumbd extensions (ignored by other tools):
 *   x-plumbd-message: "is not a MAC address"   text used for a pattern miss
 *   x-plumbd-unimplemented: true | "reason"    the key is valid but plumbd
 *       does not act on it yet: a warning when it is set to anything but
 *       false, null, 0 or "" (a key set to its default asks for nothing)
 *
 * YAML scalar typing follows what Kubernetes' decoder does: a quoted scalar
 * is a string; a plain one is null (~, null, empty), a boolean (true/false
 * and the YAML 1.1 words yes/no/on/off), an integer, a number, or else a
 * string. JSON documents are converted with the same rules.
 *
 * Problems are reported as "PATH: message" (PATH like
 * spec.desiredState.interfaces[0].mtu), errors for type, required, enum,
 * pattern, range and length violations, warnings for keys the schema does
 * not list where additionalProperties is false ("PATH is not implemented
 * yet; ignored") and for x-plumbd-unimplemented keys. */
#pragma once

#include "load.h"

/* Receives every problem, in document order. `at` is the instance node the
 * problem is about (for a missing required key: the map that lacks it). */
typedef void (*schema_report_fn)(void *userdata, enum diag_severity sev, const struct ynode *at,
                                 const char *msg);

/* Validate inst against the embedded schema `ref`: "name.yaml" (the whole
 * file) or "name.yaml#/definitions/x". path is inst's JSON path ("" for a
 * document root). Returns the number of errors reported (warnings are not
 * counted), -ENOENT when the schema does not exist. */
int schema_validate(const char *ref, const struct ynode *inst, const char *path,
                    schema_report_fn report, void *userdata);

/* The same with a schema tree of the caller's; "#/..." references resolve
 * against root. Used by tests with small inline schemas. */
int schema_validate_tree(const struct ynode *root, const struct ynode *schema,
                         const struct ynode *inst, const char *path, schema_report_fn report,
                         void *userdata);

/* The parsed embedded schema file `name` ("nmstate.yaml"), NULL when there
 * is none. Parsed once, cached for the life of the process. */
const struct ynode *schema_get(const char *name);
/* Free the cache (for leak checkers at exit). */
void schema_cache_free(void);

/* Parse JSON text into a ynode tree whose every node sits at line:col (the
 * YAML scalar that held the text). Returns 0, or -EINVAL when the text is
 * not JSON. The caller frees *ret with ynode_free(). */
int schema_json_to_ynode(const char *text, unsigned line, unsigned col, struct ynode **ret);
