// FreeType's public header is named through a macro (FT_FREETYPE_H), and its flags and tests
// (FT_LOAD_TARGET_LIGHT, FT_HAS_KERNING) are macros Swift cannot import; these inline functions
// hand over the few the plot's text renderer uses.
#ifndef BACKPROP_CFREETYPE_SHIM_H
#define BACKPROP_CFREETYPE_SHIM_H
#include <ft2build.h>
#include FT_FREETYPE_H

/// Loads glyph `index` of `face` at its current size and renders it to an 8-bit coverage
/// bitmap in `face->glyph->bitmap`, with light (vertical-only) hinting: glyph shapes keep their
/// widths, as matplotlib's Agg backend draws them.
static inline FT_Error bp_ft_render_glyph(FT_Face face, FT_UInt index) {
    return FT_Load_Glyph(face, index, FT_LOAD_RENDER | FT_LOAD_TARGET_LIGHT);
}

/// Whether the face has a kerning table.
static inline int bp_ft_has_kerning(FT_Face face) { return FT_HAS_KERNING(face) ? 1 : 0; }

/// The kerning between glyphs `left` and `right` at the face's current size, in 1/64 pixel
/// (0 when the face has none or FreeType fails).
static inline long bp_ft_kerning(FT_Face face, FT_UInt left, FT_UInt right) {
    FT_Vector delta;
    if (FT_Get_Kerning(face, left, right, FT_KERNING_DEFAULT, &delta) != 0) return 0;
    return (long)delta.x;
}

#endif
