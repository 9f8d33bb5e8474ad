/*
 * bench_filter.c - how long matching an event pattern takes, against the
 * cost of validating the same event with json_parse().
 *
 * Not a Check test: a program, built with the development flags and run
 * by `make bench-filter` (and at the end of `make bench`, scripts/bench):
 *
 *   build/bench_filter [events] [rounds]
 *
 * It makes `events` distinct synthetic events of about 700 bytes (the
 * fields of evshare's events, then a nested "data" object with a customer,
 * line items and tags), parses each once, then times json_parse and
 * filter_match over all of them `rounds` times and prints nanoseconds per
 * event; then filter_match_members, as `run` calls it, with the top-level
 * members json_parse_members recorded.  Matching works on the already
 * validated text, so the two costs add up in the pipeline: parse once,
 * then match every subscriber.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter.h"
#include "json.h"
#include "util.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void make_event(buf *b, unsigned i)
{
	static const char *domains[] = { "onboarding", "billing", "support", "identity" };
	static const char *types[] = { "succeeded", "failed", "started", "updated" };
	static const char *channels[] = { "api", "web", "mobile", "batch" };

	buf_printf(b, "{\"event_id\":\"%08x-%04x-4%03x-8%03x-%08x%04x\","
		   "\"domain\":\"%s\",\"event_type\":\"%s\",\"schema_version\":1,"
		   "\"org_id\":\"TN-%07x-531f-jhft-5896-asades55655\","
		   "\"cid\":\"%08x-8fe7-41a1-a838-%012x\","
		   "\"timestamp\":\"2026-11-26T10:%02u:%02u.000Z\","
		   "\"source\":\"evshare.bench\",\"region\":\"eu-west-1\",",
		   rng(), rng() & 0xffff, rng() & 0xfff, rng() & 0xfff, rng(), rng() & 0xffff,
		   domains[rng() % 4], types[rng() % 4], rng() & 0xfffffff, rng(),
		   rng() & 0xffffff, i % 60, (i / 60) % 60);
	buf_printf(b, "\"data\":{\"customer\":{\"id\":\"cus_%08x\",\"tier\":\"%s\","
		   "\"country\":\"%s\",\"email\":\"user%u@example.com\"},"
		   "\"items\":[{\"sku\":\"SKU-%05u\",\"qty\":%u,\"price\":%u.%02u},"
		   "{\"sku\":\"SKU-%05u\",\"qty\":%u,\"price\":%u.%02u}],"
		   "\"tags\":[\"promo\",\"q4\",\"%s\"],\"note\":\"order placed via the "
		   "checkout flow, reference %08x, second attempt\",",
		   rng(), rng() % 2 ? "gold" : "basic", rng() % 2 ? "FR" : "DE", rng() % 100000,
		   rng() % 100000, 1 + rng() % 5, rng() % 500, rng() % 100,
		   rng() % 100000, 1 + rng() % 5, rng() % 500, rng() % 100,
		   channels[rng() % 4], rng());
	buf_printf(b, "\"amount\":%u,\"currency\":\"EUR\",\"channel\":\"%s\"}}",
		   rng() % 20000, channels[rng() % 4]);
}

struct bench_pattern {
	const char *name;
	const char *text;
};

int main(int argc, char **argv)
{
	static const struct bench_pattern patterns[] = {
		{ "two top-level fields",
		  "{\"domain\":[\"onboarding\"],\"event_type\":[\"succeeded\"]}" },
		{ "numeric on data.amount",
		  "{\"domain\":[\"billing\"],\"data\":{\"amount\":[{\"numeric\":[\">\",10000]}]}}" },
		{ "absent top-level field",
		  "{\"tenant\":[\"x\"]}" },
		{ "prefix + anything-but",
		  "{\"org_id\":[{\"prefix\":\"TN-0\"}],\"event_type\":[{\"anything-but\":[\"failed\"]}]}" },
		{ "array element (items.qty)",
		  "{\"data\":{\"items\":{\"qty\":[{\"numeric\":[\">=\",5]}]}}}" },
	};
	unsigned nevents = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 4096;
	unsigned rounds = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 200;
	buf all = BUF_INIT;
	size_t *off = xcalloc(nevents + 1, sizeof(*off));
	json_value *ev = xcalloc(nevents, sizeof(*ev));
	json_member mem[32];
	json_error jerr;
	double t0, t, parse_ns, members_ns;
	unsigned long sink = 0;

	for (unsigned i = 0; i < nevents; i++) {
		off[i] = all.len;
		make_event(&all, i);
	}
	off[nevents] = all.len;
	for (unsigned i = 0; i < nevents; i++) {
		size_t nm;

		if (!json_parse_members(all.data + off[i], off[i + 1] - off[i],
					JSON_DEFAULT_MAX_DEPTH, &ev[i], mem, 32, &nm, &jerr) ||
		    nm > 32)
			die("bench event %u: %s", i, jerr.reason);
	}
	printf("%u events, %.0f bytes each on average, %u rounds\n", nevents,
	       (double)all.len / nevents, rounds);

	t0 = now_ns();
	for (unsigned r = 0; r < rounds; r++) {
		for (unsigned i = 0; i < nevents; i++) {
			json_value v;

			sink += json_parse(all.data + off[i], off[i + 1] - off[i],
					   JSON_DEFAULT_MAX_DEPTH, &v, &jerr);
		}
	}
	parse_ns = (now_ns() - t0) / ((double)rounds * nevents);
	printf("%-28s %8.1f ns/event\n", "json_parse", parse_ns);
	t0 = now_ns();
	for (unsigned r = 0; r < rounds; r++) {
		for (unsigned i = 0; i < nevents; i++) {
			json_value v;
			size_t nm;

			sink += json_parse_members(all.data + off[i], off[i + 1] - off[i],
						   JSON_DEFAULT_MAX_DEPTH, &v, mem, 32, &nm, &jerr);
		}
	}
	members_ns = (now_ns() - t0) / ((double)rounds * nevents);
	printf("%-28s %8.1f ns/event\n", "json_parse_members", members_ns);

	for (size_t p = 0; p < sizeof(patterns) / sizeof(patterns[0]); p++) {
		filter *f = NULL;
		buf err = BUF_INIT;
		unsigned long matched = 0;

		if (filter_compile(patterns[p].text, strlen(patterns[p].text), "$", &f,
				   &err) != ES_OK)
			die("%s", err.data);
		/* as in the pipeline: each event is parsed, then matched (the
		 * text is in the cache); the parse alone is subtracted */
		t0 = now_ns();
		for (unsigned r = 0; r < rounds; r++)
			for (unsigned i = 0; i < nevents; i++) {
				json_value v;
				size_t nm;

				json_parse_members(all.data + off[i], off[i + 1] - off[i],
						   JSON_DEFAULT_MAX_DEPTH, &v, mem, 32, &nm, &jerr);
				matched += filter_match(f, v);
			}
		t = (now_ns() - t0) / ((double)rounds * nevents) - members_ns;
		printf("%-28s %8.1f ns/event (%4.1f%% of parsing), %5.1f%% match\n",
		       patterns[p].name, t, 100 * t / parse_ns,
		       100.0 * (double)matched / ((double)rounds * nevents));
		sink += matched;
		/* the same, matching the top level from the recorded members */
		matched = 0;
		t0 = now_ns();
		for (unsigned r = 0; r < rounds; r++)
			for (unsigned i = 0; i < nevents; i++) {
				json_value v;
				size_t nm;

				json_parse_members(all.data + off[i], off[i + 1] - off[i],
						   JSON_DEFAULT_MAX_DEPTH, &v, mem, 32, &nm, &jerr);
				matched += filter_match_members(f, v, mem, nm);
			}
		t = (now_ns() - t0) / ((double)rounds * nevents) - members_ns;
		printf("%-28s %8.1f ns/event (%4.1f%% of parsing), %5.1f%% match\n",
		       "  with recorded members", t, 100 * t / parse_ns,
		       100.0 * (double)matched / ((double)rounds * nevents));
		sink += matched;
		filter_free(f);
		buf_release(&err);
	}
	free(ev);
	free(off);
	buf_release(&all);
	return sink == 0;
}
