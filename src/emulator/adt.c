#include "emu.h"
void adt_handle(struct req *r, struct resp *rs) { (void)r; resp_json(rs, 501, jv_null()); }
