// Finds a font file the way every Linux desktop does: fontconfig's best match for a pattern
// such as "DejaVu Sans" or "DejaVu Sans:bold".
#ifndef BACKPROP_CFONTCONFIG_SHIM_H
#define BACKPROP_CFONTCONFIG_SHIM_H
#include <fontconfig/fontconfig.h>
#include <string.h>

/// Copies the file of the best match for `pattern` into `path` and its family name into
/// `family` (both NUL-terminated, cut to their sizes). Returns 1 on a match, 0 otherwise.
static inline int bp_fc_match(const char *pattern, char *path, int pathSize, char *family, int familySize) {
    if (pathSize <= 0 || familySize <= 0) return 0;
    path[0] = 0;
    family[0] = 0;
    FcConfig *config = FcInitLoadConfigAndFonts();
    if (!config) return 0;
    FcPattern *request = FcNameParse((const FcChar8 *)pattern);
    int found = 0;
    if (request) {
        FcConfigSubstitute(config, request, FcMatchPattern);
        FcDefaultSubstitute(request);
        FcResult result = FcResultNoMatch;
        FcPattern *match = FcFontMatch(config, request, &result);
        if (match) {
            FcChar8 *file = NULL, *name = NULL;
            if (FcPatternGetString(match, FC_FILE, 0, &file) == FcResultMatch && file) {
                strncpy(path, (const char *)file, (size_t)pathSize - 1);
                path[pathSize - 1] = 0;
                found = 1;
            }
            if (FcPatternGetString(match, FC_FAMILY, 0, &name) == FcResultMatch && name) {
                strncpy(family, (const char *)name, (size_t)familySize - 1);
                family[familySize - 1] = 0;
            }
            FcPatternDestroy(match);
        }
        FcPatternDestroy(request);
    }
    FcConfigDestroy(config);
    return found;
}

#endif
