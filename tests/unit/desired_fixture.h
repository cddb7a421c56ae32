/* desired_fixture.h - shared by the unit tests of policy keys (routes,
 * route-rules, dns-resolver): YAML text -> validated desired state, and
 * a look for an error message. Include after cmocka.h and model.h. */
#pragma once

/* Load and validate yaml; exactly want_errors validation errors (they are
 * printed when the count differs). */
static void fixture_load(const char *yaml, struct desired *d, size_t want_errors)
{
    struct docset docs = {0};
    struct diags diags = {0};
    memset(d, 0, sizeof(*d));
    load_buffer("t.yaml", yaml, strlen(yaml), &docs, &diags);
    assert_int_equal(diags_count(&diags, DIAG_ERROR), 0);
    validate_docs(&docs, d);
    if (diags_count(&d->diags, DIAG_ERROR) != want_errors)
        for (size_t i = 0; i < d->diags.n; i++)
            print_message("diag: %s\n", d->diags.v[i].msg);
    assert_int_equal(diags_count(&d->diags, DIAG_ERROR), want_errors);
    docset_free(&docs);
    diags_clear(&diags);
}

static bool has_error(const struct desired *d, const char *needle)
{
    for (size_t i = 0; i < d->diags.n; i++)
        if (d->diags.v[i].severity == DIAG_ERROR && strstr(d->diags.v[i].msg, needle))
            return true;
    return false;
}
