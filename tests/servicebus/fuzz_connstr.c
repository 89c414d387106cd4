/* Fuzz target: connection-string parser, SAS token parser, and the token computation fed with
 * whatever the parser accepted. Invariants: no crash, success gives a complete struct, failure
 * gives a NULL out and an error text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "aos/servicebus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;

    aos_sb_connstr_t *cs = (aos_sb_connstr_t *)1;
    char err[256] = "";
    if (aos_sb_connstr_parse(s, &cs, err, sizeof err) == AOS_OK) {
        if (!cs || !cs->host || !cs->endpoint || cs->port == 0 || (!cs->sas && !cs->key))
            abort();
        char aud[2048], tok[8192];
        if (aos_sb_connstr_audience(cs, aud, sizeof aud) == AOS_OK && cs->key &&
            aos_sb_sas_token(aud, cs->key_name, cs->key, 1893456000u, tok, sizeof tok) == AOS_OK) {
            aos_sb_sas_fields_t *f = NULL;
            if (aos_sb_sas_parse(tok, &f, NULL, 0) != AOS_OK || strcmp(f->sr, aud) != 0)
                abort(); /* what we compute must parse back to the same resource */
            aos_sb_sas_fields_free(f);
        }
        aos_sb_connstr_free(cs);
    } else if (cs != NULL || err[0] == '\0') {
        abort();
    }

    aos_sb_sas_fields_t *f = NULL;
    if (aos_sb_sas_parse(s, &f, NULL, 0) == AOS_OK && (!f->sr || !f->sig || !f->sr_raw))
        abort();
    aos_sb_sas_fields_free(f);
    free(s);
    return 0;
}
