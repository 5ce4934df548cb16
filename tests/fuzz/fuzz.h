/*
 * fuzz.h -- what every fuzz target in tests/fuzz/ shares: the libFuzzer
 * entry point, the check that turns a broken invariant into a crash the
 * fuzzer saves, and a reader that takes the fuzzer's bytes apart.
 *
 * `make fuzz SECONDS=N` builds each fuzz_<decoder>.c with clang
 * (-fsanitize=fuzzer,address,undefined) into build-fuzz/, generates the
 * seed corpora from a real database when they are missing (fuzz_seeds.c)
 * and runs the targets one after another (tests/fuzz/run.sh). A target run
 * on files instead of a directory, `build-fuzz/bin/fuzz_log CRASH-FILE`,
 * replays just those inputs: that is how a saved crash is reproduced.
 *
 * A target must never crash, hang, leak or read out of bounds on any
 * input; on top of what the sanitizers catch, FUZZ_CHECK states what a
 * decoder promises (an error is one of the documented codes and carries a
 * message, decoded data re-encodes to the same bytes, ...), and aborts
 * with a line naming the broken promise when it does not hold.
 */
#ifndef WB_FUZZ_H
#define WB_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: broken promise: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The fuzzer's bytes, consumed from the front. Reading past the end gives
 * zeros, so a short input is still a whole (if dull) script. */
typedef struct fuzz_in {
	const uint8_t *p;
	size_t left;
} fuzz_in_t;

static inline fuzz_in_t fuzz_in(const uint8_t *data, size_t size)
{
	fuzz_in_t in = {data, size};
	return in;
}

static inline uint8_t fuzz_u8(fuzz_in_t *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static inline uint32_t fuzz_u32(fuzz_in_t *in)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)fuzz_u8(in) << (8 * i);
	return v;
}

#endif /* WB_FUZZ_H */
