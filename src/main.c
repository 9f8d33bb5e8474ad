/*
 * main.c - evshare's command line: global options, then a command.
 * Only main() picks the exit status (es_exit_status()).
 */
#include "cmd.h"
#include "config.h"
#include "dedup.h"
#include "gz.h"
#include "log.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

static void usage(FILE *out)
{
	fprintf(out,
"usage: evshare [-c FILE] [--log-format text|json] [-v|-q] COMMAND [options]\n"
"\n"
"  -c, --config FILE    config file (default $EVSHARE_CONFIG, else %s)\n"
"      --log-format F   text (default) or json: one JSON object per log line\n"
"  -v, --verbose        more detail on stderr (repeat for more)\n"
"  -q, --quiet          only warnings and errors on stderr, no text summary\n"
"  -h, --help           this help;  -V, --version  the version\n"
"\n"
"commands:\n"
"  run      read new files, write and upload outputs, commit state\n"
"           [--dry-run] [--since T] [--until T] [--source ORG]...\n"
"           [--subscriber ORG]... [--replay] [--json] [--jobs N]\n"
"           [--progress | --no-progress] [--metrics-file PATH]\n"
"  list     print what a run would read (same selection options; --json)\n"
"  check    validate the config (exit 78 naming the JSON path at fault)\n"
"  filter   --filter JSON|@FILE: print the stdin NDJSON lines it matches\n"
"  state    show [--json] [--files] | forget URL... | forget --poisoned\n"
"           | forget --plan | forget --pending ORG\n"
"  version  print the version\n"
"\n"
"exit status: 0 ok, 1 some files failed (retried next run), 64 usage,\n"
"65 bad data or corrupt state, 69 remote store refused, 70 internal error,\n"
"74 local i/o error, 75 temporary failure (lock held, endpoint unreachable),\n"
"77 access denied, 78 configuration error.  See evshare(1).\n",
		CONFIG_DEFAULT_PATH);
}

/* The memory of a run holds secrets: the keys and tokens of every store
 * (secret access keys, Azure account keys, SAS tokens), the dedup key,
 * and other tenants' events.  A core dump would write them to disk for
 * whoever reads cores (or a crash reporter sends them on), and a process
 * of the same user could read them through ptrace or /proc/PID/mem.  Not
 * dumpable: no core, and only root (CAP_SYS_PTRACE) may attach or read
 * its memory.  RLIMIT_CORE 0 as well, for systems that dump even
 * undumpable processes (fs.suid_dumpable=2) and for core handlers that
 * honour the limit (systemd-coredump).  Best effort: neither can fail
 * on Linux for a process lowering its own limits.  Debugging still works
 * under a debugger that starts evshare (or as root); LeakSanitizer makes
 * the process dumpable again while it looks at it, and valgrind runs as
 * before. */
static void no_core_dumps(void)
{
	struct rlimit rl;

	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (getrlimit(RLIMIT_CORE, &rl) == 0 && rl.rlim_cur != 0) {
		rl.rlim_cur = 0;
		setrlimit(RLIMIT_CORE, &rl);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-format", required_argument, NULL, 'L' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct global_opts g = { NULL };
	enum log_format fmt = LOG_TEXT;
	int verbosity = 0, quiet = 0, c;
	const char *cmd;
	es_result r;

	no_core_dumps();
	signal(SIGPIPE, SIG_IGN);
	/* a file-size limit (ulimit -f) makes writes fail with EFBIG, reported
	 * like a full disk, instead of killing the process */
	signal(SIGXFSZ, SIG_IGN);
	while ((c = getopt_long(argc, argv, "+c:vqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			g.config_path = optarg;
			break;
		case 'L':
			if (!strcmp(optarg, "text"))
				fmt = LOG_TEXT;
			else if (!strcmp(optarg, "json"))
				fmt = LOG_JSON;
			else {
				fprintf(stderr, "evshare: --log-format must be text or json\n");
				return 64;
			}
			break;
		case 'v':
			verbosity++;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("evshare %s (%s)\n", EVSHARE_VERSION, gz_codec_description());
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	log_setup(fmt, quiet ? LOG_WARNING : verbosity >= 2 ? LOG_TRACE
		  : verbosity == 1 ? LOG_DEBUG : LOG_INFO);
	if (optind >= argc) {
		usage(stderr);
		return 64;
	}
	if (!g.config_path)
		g.config_path = getenv("EVSHARE_CONFIG");
	if (!g.config_path || !*g.config_path)
		g.config_path = CONFIG_DEFAULT_PATH;
	dedup_init_key();
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	if (!strcmp(cmd, "run"))
		r = cmd_run(&g, argc, argv);
	else if (!strcmp(cmd, "list"))
		r = cmd_list(&g, argc, argv);
	else if (!strcmp(cmd, "check"))
		r = cmd_check(&g, argc, argv);
	else if (!strcmp(cmd, "filter"))
		r = cmd_filter(&g, argc, argv);
	else if (!strcmp(cmd, "state"))
		r = cmd_state(&g, argc, argv);
	else if (!strcmp(cmd, "version")) {
		printf("evshare %s\n", EVSHARE_VERSION);
		r = ES_OK;
	} else if (!strcmp(cmd, "help")) {
		usage(stdout);
		r = ES_OK;
	} else {
		error("unknown command '%s'", cmd);
		usage(stderr);
		r = ES_ERR_USAGE;
	}
	return es_exit_status(r);
}
