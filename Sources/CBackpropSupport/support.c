#include "CBackpropSupport.h"
// SwiftPM needs one translation unit per C target; the header carries everything.
int bp_support_linked(void) { return 1; }
