/*
 * crc32c.c -- CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
 *
 * Called from every thread that reads or writes a record or block. Two
 * implementations give bit-identical results: the SSE4.2 crc32 instruction,
 * and a portable slicing-by-8 table walk. The choice and the tables are made
 * once, under pthread_once, the first time any thread asks for a checksum;
 * after that everything is read-only, so no locking is needed.
 *
 * Both implementations work on the raw register value: crc32c_extend()
 * applies the standard pre- and post-inversion around them, which is what
 * makes crc32c_extend(crc32c(a), b) == crc32c(a || b).
 */
#include "util/crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define HAVE_SSE42_PATH 1
#endif

#define POLY 0x82F63B78u

typedef uint32_t (*extend_fn)(uint32_t reg, const uint8_t *p, size_t n);

/* table[0] is the classic byte-at-a-time table; table[k][b] is the effect
 * of byte b followed by k zero bytes, which lets eight bytes be folded in
 * with eight independent lookups instead of eight dependent ones. */
static uint32_t table[8][256];
static extend_fn extend_impl;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t r = b;
		for (int bit = 0; bit < 8; bit++)
			r = (r >> 1) ^ (POLY & (0u - (r & 1)));
		table[0][b] = r;
	}
	for (int k = 1; k < 8; k++)
		for (uint32_t b = 0; b < 256; b++) {
			uint32_t prev = table[k - 1][b];
			table[k][b] = (prev >> 8) ^ table[0][prev & 0xff];
		}
}

static uint32_t extend_sw(uint32_t reg, const uint8_t *p, size_t n)
{
	/* Bytes are indexed one by one (not loaded as a word) so the result
	 * does not depend on the host's byte order. */
	while (n >= 8) {
		reg = table[7][(reg ^ p[0]) & 0xff] ^ table[6][((reg >> 8) ^ p[1]) & 0xff] ^
		      table[5][((reg >> 16) ^ p[2]) & 0xff] ^ table[4][(reg >> 24) ^ p[3]] ^
		      table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
		p += 8;
		n -= 8;
	}
	while (n--)
		reg = (reg >> 8) ^ table[0][(reg ^ *p++) & 0xff];
	return reg;
}

#ifdef HAVE_SSE42_PATH
/*
 * The crc32 instruction takes 3 cycles and issues one a cycle: one stream
 * of them runs at a third of the speed three interleaved streams reach. So
 * a long buffer is cut into three equal parts whose CRCs run side by side
 * (the second and third from 0), then joined: the register after A‖B is
 * the register after A carried across len(B) zero bytes, xor B's. Carrying
 * across a fixed length is linear in the register, so it is four table
 * lookups (zeros_long/zeros_short, built at init from 32 basis values).
 */
#define LONG_PART 8192
#define SHORT_PART 256

static uint32_t zeros_long[4][256], zeros_short[4][256];

__attribute__((target("sse4.2"))) static uint32_t zeros_slow(uint32_t reg, size_t len)
{
	uint64_t r = reg;
	for (size_t i = 0; i < len; i += 8)
		r = _mm_crc32_u64(r, 0);
	return (uint32_t)r;
}

static void build_zeros(uint32_t t[4][256], size_t len)
{
	uint32_t basis[32];
	for (int i = 0; i < 32; i++)
		basis[i] = zeros_slow(1u << i, len);
	for (int k = 0; k < 4; k++)
		for (int v = 0; v < 256; v++) {
			uint32_t x = 0;
			for (int b = 0; b < 8; b++)
				if (v >> b & 1)
					x ^= basis[8 * k + b];
			t[k][v] = x;
		}
}

static uint32_t shift(const uint32_t t[4][256], uint32_t r)
{
	return t[0][r & 0xff] ^ t[1][(r >> 8) & 0xff] ^ t[2][(r >> 16) & 0xff] ^ t[3][r >> 24];
}

/* Runs the three parts of p[0 .. 3 * part) side by side from reg. */
__attribute__((target("sse4.2"))) static uint32_t three_way(uint32_t reg, const uint8_t *p,
							     size_t part,
							     const uint32_t zeros[4][256])
{
	uint64_t c0 = reg, c1 = 0, c2 = 0;
	for (size_t i = 0; i < part; i += 8) {
		uint64_t w0, w1, w2;
		memcpy(&w0, p + i, 8);
		memcpy(&w1, p + part + i, 8);
		memcpy(&w2, p + 2 * part + i, 8);
		c0 = _mm_crc32_u64(c0, w0);
		c1 = _mm_crc32_u64(c1, w1);
		c2 = _mm_crc32_u64(c2, w2);
	}
	uint32_t r = shift(zeros, (uint32_t)c0) ^ (uint32_t)c1;
	return shift(zeros, r) ^ (uint32_t)c2;
}

__attribute__((target("sse4.2"))) static uint32_t extend_hw(uint32_t reg, const uint8_t *p,
							    size_t n)
{
	while (n >= 3 * LONG_PART) {
		reg = three_way(reg, p, LONG_PART, zeros_long);
		p += 3 * LONG_PART;
		n -= 3 * LONG_PART;
	}
	while (n >= 3 * SHORT_PART) {
		reg = three_way(reg, p, SHORT_PART, zeros_short);
		p += 3 * SHORT_PART;
		n -= 3 * SHORT_PART;
	}
	uint64_t r = reg;
	/* The instruction reads its operand little-endian, as x86 stores it,
	 * so a memcpy'd word is exactly the next eight bytes of the stream. */
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		r = _mm_crc32_u64(r, w);
		p += 8;
		n -= 8;
	}
	uint32_t r32 = (uint32_t)r;
	while (n--)
		r32 = _mm_crc32_u8(r32, *p++);
	return r32;
}
#endif

static void init(void)
{
	build_tables();
	extend_impl = extend_sw;
#ifdef HAVE_SSE42_PATH
	__builtin_cpu_init(); /* we may run before libgcc's own constructor */
	if (__builtin_cpu_supports("sse4.2")) {
		build_zeros(zeros_long, LONG_PART);
		build_zeros(zeros_short, SHORT_PART);
		extend_impl = extend_hw;
	}
#endif
}

uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n)
{
	/* pthread_once's completed path is one acquire load; it also makes
	 * the tables and extend_impl visible to this thread. */
	pthread_once(&init_once, init);
	return ~extend_impl(~crc, data, n);
}
