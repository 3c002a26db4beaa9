#include "CBackpropSupport.h"
#include <stdio.h>

void bp_line_buffer_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}
