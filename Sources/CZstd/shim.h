// Door to Debian's libzstd (libzstd-dev): streaming compression for tapes.
#include <zstd.h>
#include <zstd_errors.h>
