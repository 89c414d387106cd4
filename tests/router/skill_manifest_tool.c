/* Prints the skill manifest the router would serve for an agents config:
 *   skill_manifest_tool <aos.json> <public-url> <app-id>
 * Used by tests/node/skill_manifest.mjs to validate it against Microsoft's schema. */
#include <stdio.h>
#include <stdlib.h>

#include "skill_manifest.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s <aos.json> <public-url> <app-id>\n", argv[0]);
        return 2;
    }
    aos_agents_config_t *cfg = NULL;
    char err[512] = "";
    if (aos_agents_config_load(argv[1], &cfg, err, sizeof err) != AOS_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    router_skill_info_t info = {.public_url = argv[2], .app_id = argv[3]};
    char *json = NULL;
    aos_result r = router_skill_manifest_build(cfg, &info, &json);
    aos_agents_config_free(cfg);
    if (r != AOS_OK) {
        fprintf(stderr, "manifest: %s\n", aos_result_str(r));
        return 1;
    }
    puts(json);
    free(json);
    return 0;
}
