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
/* vmlinux only (Makefile): the banner init/version.c has, where the capabilities find the
 * release, and with a .BTF (FAKE_BTF), the kfunc ID set resolve_btfids would have written
 * (include/linux/btf_ids.h: struct btf_id_set8 { u32 cnt, flags; { u32 id, flags; } [cnt] },
 * flags 1 = BTF_SET8_KFUNCS): the type ids of the three FUNCs of fake.btf and fake-next.btf,
 * 27 to 29 (tests/unit/mkbtf.h), so a fake build's kfuncs come from its ID sets as a real
 * build's do. */
#ifdef FAKE_STAMPS
const char linux_banner[] = "Linux version 0.0.0-fake (ktscope@ktscope) #1 SMP\n";
#endif
#ifdef FAKE_BTF_IDS
__attribute__((section(".BTF_ids"), used)) static unsigned int
	__BTF_ID__set8__fake_kfunc_ids[] = { 3, 1, 27, 0, 28, 0, 29, 0 };
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
