/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The probe files of the strip tests: a small C program compiled with debug info by the
 * machine's cc in a mkdtemp() directory, with a .BTF_ids section between code and data (as
 * in a vmlinux) and a .BTF section added by objcopy (and, where pahole and bpftool exist, a
 * real one that bpftool must still read after the strip). Results are read with libelf
 * and readelf, not with strip.c's own view.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gelf.h>
#include <libelf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "strip.h"
#include "strip-probe.h"

#define PROBE_SOURCE                                                                      \
	"#include <stdio.h>\n"                                                            \
	"struct kts_probe { int id; long hits; const char *name; };\n"                    \
	"const char kts_probe_banner[] = \"ktscope strip probe: this lives in .rodata\";\n" \
	"int kts_probe_counter = 42;\n"                                                   \
	"__attribute__((section(\".BTF_ids\"), used))\n"                                \
	"const int kts_probe_btf_ids[4] = { 1, 2, 3, 4 };\n"                             \
	"struct kts_probe kts_probe_one = { 1, 2, \"one\" };\n"                           \
	"static int kts_probe_twice(int x) { return 2 * x + kts_probe_counter; }\n"       \
	"int main(int argc, char **argv) {\n"                                             \
	"\t(void) argv;\n"                                                                \
	"\tprintf(\"%s %d %ld\\n\", kts_probe_banner, kts_probe_twice(argc),\n"            \
	"\t       kts_probe_one.hits);\n"                                                 \
	"\treturn 0;\n"                                                                   \
	"}\n"

/* ------------------------------------------------------------------ helpers */

/* Runs a shell command line; returns its exit status, or -1 when it did not exit. */
_printf_(1, 2) int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	(void) vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void write_bytes(const char *path, const void *buf, size_t n)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t) n);
}

/* The whole file, malloc'd, NUL-terminated for convenience; NULL if it cannot be read. */
char *read_all(const char *path, size_t *ret_size)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t size = 0, n;
	char chunk[65536];

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		char *nb = realloc(buf, size + n + 1);

		assert_non_null(nb);
		buf = nb;
		memcpy(buf + size, chunk, n);
		size += n;
	}
	if (!buf)
		buf = calloc(1, 1);
	buf[size] = '\0';
	if (ret_size)
		*ret_size = size;
	return buf;
}

bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

uint64_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t) st.st_size;
}

/* Number of hidden entries in dir: strip's temporary files are ".NAME.XXXXXX". */
unsigned hidden_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] == '.' && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
			n++;
	(void) closedir(d);
	return n;
}

void path_in(const struct fixture *fx, const char *name, char *buf, size_t size)
{
	(void) snprintf(buf, size, "%s/%s", fx->dir, name);
	(void) unlink(buf);
}

void elf_file_open(struct elf_file *ef, const char *path)
{
	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	ef->fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ef->fd >= 0);
	ef->elf = elf_begin(ef->fd, ELF_C_READ, NULL);
	assert_non_null(ef->elf);
	assert_int_equal(elf_kind(ef->elf), ELF_K_ELF);
	assert_int_equal(elf_getshdrstrndx(ef->elf, &ef->shstrndx), 0);
}

void elf_file_close(struct elf_file *ef)
{
	(void) elf_end(ef->elf);
	(void) close(ef->fd);
}

const char *scn_name(const struct elf_file *ef, Elf_Scn *scn)
{
	GElf_Shdr sh;
	const char *n;

	assert_non_null(gelf_getshdr(scn, &sh));
	n = elf_strptr(ef->elf, ef->shstrndx, sh.sh_name);
	return n ? n : "";
}

Elf_Scn *find_scn(const struct elf_file *ef, const char *name)
{
	for (Elf_Scn *scn = elf_nextscn(ef->elf, NULL); scn; scn = elf_nextscn(ef->elf, scn))
		if (streq(scn_name(ef, scn), name))
			return scn;
	return NULL;
}

GElf_Shdr shdr_of(const struct elf_file *ef, const char *name)
{
	Elf_Scn *scn = find_scn(ef, name);
	GElf_Shdr sh;

	if (!scn)
		fail_msg("no section '%s'", name);
	assert_non_null(gelf_getshdr(scn, &sh));
	return sh;
}

/* Asserts that readelf with the given options reads path with exit 0 and a silent
 * stderr: no "Warning:" and no "Error:" (readelf reports both there). */
void assert_readelf_clean(const struct fixture *fx, const char *opts, const char *path)
{
	char err[256];
	_cleanup_free_ char *text = NULL;
	int st;

	(void) snprintf(err, sizeof(err), "%s/readelf.err", fx->dir);
	st = run("readelf %s '%s' >/dev/null 2>'%s'", opts, path, err);
	text = read_all(err, NULL);
	assert_non_null(text);
	if (st != 0 || strstr(text, "Warning") || strstr(text, "Error"))
		fail_msg("readelf %s %s: exit %d, stderr: %s", opts, path, st, text);
	(void) unlink(err);
}

/* The 64-bit section header of the named section inside an in-memory copy of fx->prog. */
Elf64_Shdr *raw_shdr(const struct fixture *fx, char *bytes, const char *name)
{
	struct elf_file ef;
	Elf64_Ehdr eh;
	size_t idx;

	elf_file_open(&ef, fx->prog);
	idx = elf_ndxscn(find_scn(&ef, name));
	elf_file_close(&ef);
	assert_true(idx > 0);
	memcpy(&eh, bytes, sizeof(eh));
	assert_int_equal(eh.e_ident[EI_CLASS], ELFCLASS64);
	return (Elf64_Shdr *) (void *) (bytes + eh.e_shoff + idx * eh.e_shentsize);
}

/* Strips fx->prog into the named file of the fixture directory. */
void strip_prog(const struct fixture *fx, const char *name, char *out, size_t size)
{
	uint64_t before = 0, after = 0;

	path_in(fx, name, out, size);
	assert_int_equal(strip_vmlinux(fx->prog, out, &before, &after), 0);
	assert_true(after > 0);
}

static bool have_tool(const char *name)
{
	return run("command -v %s >/dev/null 2>&1", name) == 0;
}

/* ------------------------------------------------------------------ fixture */

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void) st;
	(void) type;
	(void) ftw;
	return remove(p);
}

int strip_probe_setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char src[256], btf[256];
	uint8_t fake_btf[300];

	if (!fx)
		return -1;
	(void) snprintf(fx->dir, sizeof(fx->dir), "/tmp/ktscope-test-strip.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;

	(void) snprintf(src, sizeof(src), "%s/probe.c", fx->dir);
	(void) snprintf(btf, sizeof(btf), "%s/fake.btf", fx->dir);
	(void) snprintf(fx->prog, sizeof(fx->prog), "%s/probe", fx->dir);
	(void) snprintf(fx->obj, sizeof(fx->obj), "%s/probe.o", fx->dir);
	write_bytes(src, PROBE_SOURCE, strlen(PROBE_SOURCE));
	for (size_t i = 0; i < sizeof(fake_btf); i++)
		fake_btf[i] = (uint8_t) (i * 7 + 3);
	write_bytes(btf, fake_btf, sizeof(fake_btf));

	/* Allocated and read-only, like the kernel's .BTF (which lives in RO_DATA). objcopy
	 * notes that the new section is in no segment; that is expected. */
	if (run("cd '%s' && cc -g -O0 -o probe.tmp probe.c && "
		"objcopy --add-section .BTF=fake.btf --set-section-flags .BTF=alloc,readonly "
		"probe.tmp probe 2>/dev/null && "
		"cc -g -O0 -c -o probe.o.tmp probe.c && "
		"objcopy --add-section .BTF=fake.btf --set-section-flags .BTF=alloc,readonly "
		"probe.o.tmp probe.o 2>/dev/null",
		fx->dir) != 0) {
		print_error("cannot build the probe ELF files with cc and objcopy\n");
		return -1;
	}

	/* A real .BTF from the DWARF (as the kernel build makes it), when pahole exists. */
	if (have_tool("pahole") &&
	    run("cd '%s' && cp probe.tmp probe.btf && pahole -J probe.btf >/dev/null 2>&1",
		fx->dir) == 0)
		(void) snprintf(fx->realbtf, sizeof(fx->realbtf), "%s/probe.btf", fx->dir);
	fx->have_bpftool = have_tool("bpftool");
	if (run("cd '%s' && objcopy -O elf32-x86-64 probe.o probe32.o 2>/dev/null", fx->dir) == 0)
		(void) snprintf(fx->obj32, sizeof(fx->obj32), "%s/probe32.o", fx->dir);

	*state = fx;
	return 0;
}

int strip_probe_teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx && fx->dir[0])
		(void) nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

