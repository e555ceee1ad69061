/* The fake kernel: an ELF with symbols, .rodata and debug info for the strip step. */
#include <stdio.h>

const char fake_banner[] = "Linux version 0.0.0-fake (ktscope tests)";
int fake_counter = 42;
/* FAKE_KERNEL_RODATA=N (make): N more bytes of .rodata, which the strip keeps. */
/* The build stamps (Makefile: include/generated/compile.h), as init/version.c has them. */
#ifdef FAKE_STAMPS
const char fake_uts_version[] = FAKE_UTS_VERSION;
const char fake_compile_by[] = FAKE_COMPILE_BY;
#endif
#ifdef FAKE_RODATA
const char fake_rodata[FAKE_RODATA] = { 1 };
#endif
/* Each object its own bytes (-DFAKE_OBJECT=objN), as a kernel's objects are: a compiler
 * cache keeps one entry per object. */
#ifdef FAKE_OBJECT
#define FAKE_STR2(x) #x
#define FAKE_STR(x) FAKE_STR2(x)
const char fake_object[] = FAKE_STR(FAKE_OBJECT);
#endif

int main(void)
{
	puts(fake_banner);
	return fake_counter == 42 ? 0 : 1;
}
