/* main.c - placeholder until the CLI lands */
#include "util.h"
#include "log.h"
int main(void) { info("evshare %s", EVSHARE_VERSION); return 0; }
