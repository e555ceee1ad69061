/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * strip.c on real ELF files made here: a small C program compiled with debug info by the
 * machine's cc in a mkdtemp() directory, with a .BTF_ids section between code and data (as
 * in a vmlinux) and a .BTF section added by objcopy (and, where pahole and bpftool exist, a
 * real one that bpftool must still read after the strip).
 * The results are checked with libelf and with readelf, not with strip.c's own view.
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

struct fixture {
	char dir[128];
	char prog[256];    /* linked with -g, plus an allocated fake .BTF: the "vmlinux" */
	char obj[256];     /* relocatable object with -g, plus a fake .BTF */
	char realbtf[256]; /* linked, with a pahole-made .BTF; empty when pahole is missing */
	char obj32[256];   /* obj converted to ELFCLASS32 (x32); empty if objcopy cannot */
	bool have_bpftool;
};

/* ------------------------------------------------------------------ helpers */

/* Runs a shell command line; returns its exit status, or -1 when it did not exit. */
_printf_(1, 2) static int run(const char *fmt, ...)
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

static void write_bytes(const char *path, const void *buf, size_t n)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t) n);
}

/* The whole file, malloc'd, NUL-terminated for convenience; NULL if it cannot be read. */
static char *read_all(const char *path, size_t *ret_size)
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

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t) st.st_size;
}

/* Number of hidden entries in dir: strip's temporary files are ".NAME.XXXXXX". */
static unsigned hidden_entries(const char *dir)
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

static void path_in(const struct fixture *fx, const char *name, char *buf, size_t size)
{
	(void) snprintf(buf, size, "%s/%s", fx->dir, name);
	(void) unlink(buf);
}

struct elf_file {
	int fd;
	Elf *elf;
	size_t shstrndx;
};

static void elf_file_open(struct elf_file *ef, const char *path)
{
	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	ef->fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ef->fd >= 0);
	ef->elf = elf_begin(ef->fd, ELF_C_READ, NULL);
	assert_non_null(ef->elf);
	assert_int_equal(elf_kind(ef->elf), ELF_K_ELF);
	assert_int_equal(elf_getshdrstrndx(ef->elf, &ef->shstrndx), 0);
}

static void elf_file_close(struct elf_file *ef)
{
	(void) elf_end(ef->elf);
	(void) close(ef->fd);
}

static const char *scn_name(const struct elf_file *ef, Elf_Scn *scn)
{
	GElf_Shdr sh;
	const char *n;

	assert_non_null(gelf_getshdr(scn, &sh));
	n = elf_strptr(ef->elf, ef->shstrndx, sh.sh_name);
	return n ? n : "";
}

static Elf_Scn *find_scn(const struct elf_file *ef, const char *name)
{
	for (Elf_Scn *scn = elf_nextscn(ef->elf, NULL); scn; scn = elf_nextscn(ef->elf, scn))
		if (streq(scn_name(ef, scn), name))
			return scn;
	return NULL;
}

static GElf_Shdr shdr_of(const struct elf_file *ef, const char *name)
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
static void assert_readelf_clean(const struct fixture *fx, const char *opts, const char *path)
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
static Elf64_Shdr *raw_shdr(const struct fixture *fx, char *bytes, const char *name)
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
static void strip_prog(const struct fixture *fx, const char *name, char *out, size_t size)
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

/* True for the sections the strip deletes outright in the probe files (strip.h): debug info,
 * the compiler's comment, .BTF_ids, and all that is not allocated but the symbol table, its
 * strings and the section names (relocations of an object, .note.GNU-stack). */
static bool is_deleted(const struct elf_file *ef, size_t ndx)
{
	Elf_Scn *scn = elf_getscn(ef->elf, ndx);
	const char *name;
	GElf_Shdr sh;

	assert_non_null(scn);
	assert_non_null(gelf_getshdr(scn, &sh));
	name = scn_name(ef, scn);
	if (startswith(name, ".debug_") || streq(name, ".comment") || streq(name, ".BTF_ids"))
		return true;
	return !(sh.sh_flags & SHF_ALLOC) && sh.sh_type != SHT_SYMTAB &&
	       !streq(name, ".strtab") && !streq(name, ".shstrtab");
}

/* The name of section ndx, or NULL when ndx is not a section index. */
static const char *name_of_index(const struct elf_file *ef, size_t ndx)
{
	Elf_Scn *scn = ndx > 0 && ndx < SHN_LORESERVE ? elf_getscn(ef->elf, ndx) : NULL;

	return scn ? scn_name(ef, scn) : NULL;
}

/*
 * Asserts that the symbol table of out_path is that of in_path, entry for entry, with each
 * st_shndx naming a section of the same name as before, or, for a section that is gone,
 * SHN_ABS (executables) or SHN_UNDEF (objects) with the same value; a section symbol of a
 * deleted section becomes a null symbol. Returns how many symbols changed index, so a test
 * can insist that renumbering happened.
 */
static unsigned assert_symbols_follow_sections(const char *in_path, const char *out_path)
{
	struct elf_file in, out;
	GElf_Shdr si, so;
	GElf_Ehdr eh;
	Elf_Data *din, *dout;
	unsigned moved = 0;
	size_t n;

	elf_file_open(&in, in_path);
	elf_file_open(&out, out_path);
	assert_non_null(gelf_getehdr(in.elf, &eh));
	assert_non_null(gelf_getshdr(find_scn(&in, ".symtab"), &si));
	assert_non_null(gelf_getshdr(find_scn(&out, ".symtab"), &so));
	din = elf_getdata(find_scn(&in, ".symtab"), NULL);
	dout = elf_getdata(find_scn(&out, ".symtab"), NULL);
	assert_non_null(din);
	assert_non_null(dout);
	n = si.sh_size / si.sh_entsize;
	assert_int_equal(so.sh_size / so.sh_entsize, n);
	for (size_t i = 0; i < n; i++) {
		GElf_Sym a, b;
		const char *na, *nb, *sa, *sb;

		assert_non_null(gelf_getsym(din, (int) i, &a));
		assert_non_null(gelf_getsym(dout, (int) i, &b));
		na = elf_strptr(in.elf, si.sh_link, a.st_name);
		nb = elf_strptr(out.elf, so.sh_link, b.st_name);
		assert_non_null(na);
		assert_non_null(nb);
		sa = name_of_index(&in, a.st_shndx);
		sb = name_of_index(&out, b.st_shndx);
		if (!sa) {
			/* SHN_UNDEF, SHN_ABS, SHN_COMMON: nothing to renumber. */
			assert_int_equal(b.st_shndx, a.st_shndx);
		} else if (sb) {
			if (!streq(sa, sb))
				fail_msg("symbol %zu ('%s') was in %s, now in %s", i, na, sa, sb);
			moved += b.st_shndx != a.st_shndx;
		} else if (GELF_ST_TYPE(a.st_info) == STT_SECTION) {
			assert_true(is_deleted(&in, a.st_shndx));
			assert_int_equal(b.st_shndx, SHN_UNDEF);
			assert_int_equal(b.st_info, GELF_ST_INFO(STB_LOCAL, STT_NOTYPE));
			assert_int_equal(b.st_value, 0);
			continue;
		} else {
			assert_true(is_deleted(&in, a.st_shndx));
			assert_int_equal(b.st_shndx, eh.e_type == ET_REL ? SHN_UNDEF : SHN_ABS);
		}
		assert_string_equal(nb, na);
		assert_int_equal(b.st_value, a.st_value);
		assert_int_equal(b.st_size, a.st_size);
		assert_int_equal(b.st_info, a.st_info);
	}
	elf_file_close(&out);
	elf_file_close(&in);
	return moved;
}

/*
 * Asserts that out_path has the sections of in_path minus the deleted ones, in the same
 * order, with the same names and addresses, every sh_link, section-index sh_info and
 * e_shstrndx naming the section they named before, and no trace of a deleted section: no
 * header, and no name left in the section-name table; readelf agrees.
 */
static void assert_sections_follow(const struct fixture *fx, const char *in_path,
				   const char *out_path)
{
	struct elf_file in, out;
	size_t n_in, n_out, j = 1, str_in, str_out;
	Elf_Data *names;
	char listing[256];
	_cleanup_free_ char *text = NULL;

	elf_file_open(&in, in_path);
	elf_file_open(&out, out_path);
	assert_int_equal(elf_getshdrnum(in.elf, &n_in), 0);
	assert_int_equal(elf_getshdrnum(out.elf, &n_out), 0);
	assert_int_equal(elf_getshdrstrndx(in.elf, &str_in), 0);
	assert_int_equal(elf_getshdrstrndx(out.elf, &str_out), 0);
	assert_string_equal(name_of_index(&out, str_out), name_of_index(&in, str_in));
	for (size_t i = 1; i < n_in; i++) {
		const char *name = name_of_index(&in, i);
		GElf_Shdr sa, sb;

		if (is_deleted(&in, i))
			continue;
		assert_true(j < n_out);
		assert_string_equal(name_of_index(&out, j), name);
		assert_non_null(gelf_getshdr(elf_getscn(in.elf, i), &sa));
		assert_non_null(gelf_getshdr(elf_getscn(out.elf, j), &sb));
		assert_int_equal(sb.sh_addr, sa.sh_addr);
		if (sb.sh_type != SHT_NOBITS)
			assert_true(sb.sh_offset + sb.sh_size <= file_size(out_path));
		if (sa.sh_link != 0 && !is_deleted(&in, sa.sh_link))
			assert_string_equal(name_of_index(&out, sb.sh_link),
					    name_of_index(&in, sa.sh_link));
		if (sa.sh_flags & SHF_INFO_LINK && !is_deleted(&in, sa.sh_info))
			assert_string_equal(name_of_index(&out, sb.sh_info),
					    name_of_index(&in, sa.sh_info));
		j++;
	}
	assert_int_equal(n_out, j);
	names = elf_rawdata(elf_getscn(out.elf, str_out), NULL);
	assert_non_null(names);
	for (size_t o = 0; o < names->d_size; o += strlen((char *) names->d_buf + o) + 1)
		if (strstr((char *) names->d_buf + o, ".debug_") ||
		    strstr((char *) names->d_buf + o, ".comment"))
			fail_msg("'%s' is still in the section-name table",
				 (char *) names->d_buf + o);
	elf_file_close(&out);
	elf_file_close(&in);

	(void) snprintf(listing, sizeof(listing), "%s/readelf.S", fx->dir);
	assert_int_equal(run("readelf -S -W '%s' >'%s' 2>&1", out_path, listing), 0);
	text = read_all(listing, NULL);
	assert_non_null(text);
	if (strstr(text, ".debug_") || strstr(text, ".comment") || strstr(text, ".BTF_ids"))
		fail_msg("readelf -S still lists a deleted section: %s", text);
	(void) unlink(listing);
}

/* ------------------------------------------------------------------ fixture */

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void) st;
	(void) type;
	(void) ftw;
	return remove(p);
}

static int group_setup(void **state)
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

static int group_teardown(void **state)
{
	struct fixture *fx = *state;

	if (fx && fx->dir[0])
		(void) nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* ------------------------------------------------------------------ tests */

static void test_input_is_meaningful(void **state)
{
	const struct fixture *fx = *state;
	struct elf_file in;
	GElf_Shdr sh;
	unsigned debug = 0;

	/* The premises of the other tests: the probe has code, data, rodata, DWARF, a symbol
	 * table and program headers, and readelf itself has nothing to say about it. */
	elf_file_open(&in, fx->prog);
	sh = shdr_of(&in, ".text");
	assert_int_equal(sh.sh_type, SHT_PROGBITS);
	sh = shdr_of(&in, ".data");
	assert_int_equal(sh.sh_type, SHT_PROGBITS);
	sh = shdr_of(&in, ".BTF");
	assert_true(sh.sh_flags & SHF_ALLOC);
	for (Elf_Scn *scn = elf_nextscn(in.elf, NULL); scn; scn = elf_nextscn(in.elf, scn))
		if (startswith(scn_name(&in, scn), ".debug_"))
			debug++;
	assert_true(debug >= 3);
	assert_non_null(find_scn(&in, ".symtab"));
	elf_file_close(&in);
	assert_readelf_clean(fx, "-S -W", fx->prog);
}

static void test_keeps_contents_byte_identical(void **state)
{
	const struct fixture *fx = *state;
	/* .symtab and .shstrtab are rewritten: see the symbol and section tests. */
	static const char *const kept[] = { ".strtab", ".BTF", ".rodata" };
	struct elf_file in, out;
	char path[256];

	strip_prog(fx, "out-identical", path, sizeof(path));
	elf_file_open(&in, fx->prog);
	elf_file_open(&out, path);
	for (size_t i = 0; i < ELEMENTSOF(kept); i++) {
		Elf_Scn *a = find_scn(&in, kept[i]), *b = find_scn(&out, kept[i]);
		GElf_Shdr sa, sb;
		Elf_Data *da, *db;

		assert_non_null(a);
		assert_non_null(b);
		assert_non_null(gelf_getshdr(a, &sa));
		assert_non_null(gelf_getshdr(b, &sb));
		assert_int_equal(sb.sh_type, sa.sh_type);
		assert_int_equal(sb.sh_size, sa.sh_size);
		assert_true(sa.sh_size > 0);
		da = elf_rawdata(a, NULL);
		db = elf_rawdata(b, NULL);
		assert_non_null(da);
		assert_non_null(db);
		assert_int_equal(db->d_size, da->d_size);
		if (memcmp(da->d_buf, db->d_buf, da->d_size) != 0)
			fail_msg("contents of %s differ after the strip", kept[i]);
	}
	elf_file_close(&out);
	elf_file_close(&in);
}

static void test_code_and_data_become_nobits(void **state)
{
	const struct fixture *fx = *state;
	static const char *const gone[] = { ".text", ".data", ".init_array", ".dynsym",
					    ".eh_frame" };
	struct elf_file in, out;
	char path[256];

	strip_prog(fx, "out-nobits", path, sizeof(path));
	elf_file_open(&in, fx->prog);
	elf_file_open(&out, path);
	for (size_t i = 0; i < ELEMENTSOF(gone); i++) {
		GElf_Shdr a = shdr_of(&in, gone[i]), b = shdr_of(&out, gone[i]);

		assert_int_not_equal(a.sh_type, SHT_NOBITS);
		assert_int_equal(b.sh_type, SHT_NOBITS);
		/* Header kept so symbols still resolve to an address range. */
		assert_int_equal(b.sh_addr, a.sh_addr);
		assert_int_equal(b.sh_size, a.sh_size);
		assert_int_equal(b.sh_flags, a.sh_flags);
	}
	elf_file_close(&out);
	elf_file_close(&in);
}

static void test_only_keep_list_carries_bytes(void **state)
{
	const struct fixture *fx = *state;
	struct elf_file out;
	char path[256];

	strip_prog(fx, "out-keeplist", path, sizeof(path));
	elf_file_open(&out, path);
	for (Elf_Scn *scn = elf_nextscn(out.elf, NULL); scn; scn = elf_nextscn(out.elf, scn)) {
		const char *name = scn_name(&out, scn);
		GElf_Shdr sh;

		assert_non_null(gelf_getshdr(scn, &sh));
		if (startswith(name, ".debug_") || streq(name, ".comment") ||
		    streq(name, ".BTF_ids") || sh.sh_type == SHT_RELA)
			fail_msg("section %s is still there", name);
		if (sh.sh_type == SHT_NOBITS || sh.sh_size == 0)
			continue;
		/* Everything else with file bytes is on the documented keep-list. */
		if (!(streq(name, ".symtab") || streq(name, ".strtab") ||
		      streq(name, ".shstrtab") || streq(name, ".BTF") || streq(name, ".rodata") ||
		      streq(name, ".interp") ||
		      (sh.sh_type == SHT_NOTE && (sh.sh_flags & SHF_ALLOC))))
			fail_msg("section %s still carries %ju bytes", name,
				 (uintmax_t) sh.sh_size);
	}
	elf_file_close(&out);
}
static void test_debug_comment_and_btf_ids_sections_are_deleted(void **state)
{
	const struct fixture *fx = *state;
	struct elf_file in, out;
	GElf_Ehdr ei, eo;
	char path[256];

	/* Gone, not left behind as empty headers: tools test for a .debug_info section. */
	strip_prog(fx, "out-deleted", path, sizeof(path));
	assert_sections_follow(fx, fx->prog, path);
	elf_file_open(&in, fx->prog);
	elf_file_open(&out, path);
	assert_non_null(find_scn(&in, ".debug_info"));
	assert_non_null(find_scn(&in, ".comment"));
	assert_non_null(find_scn(&in, ".BTF_ids"));
	assert_null(find_scn(&out, ".debug_info"));
	assert_null(find_scn(&out, ".comment"));
	assert_null(find_scn(&out, ".BTF_ids"));
	assert_non_null(gelf_getehdr(in.elf, &ei));
	assert_non_null(gelf_getehdr(out.elf, &eo));
	assert_int_equal(eo.e_type, ei.e_type);
	assert_int_equal(eo.e_machine, ei.e_machine);
	assert_int_equal(eo.e_entry, ei.e_entry);
	assert_memory_equal(eo.e_ident, ei.e_ident, EI_NIDENT);
	elf_file_close(&out);
	elf_file_close(&in);
}
static void test_symbols_keep_names_and_values(void **state)
{
	const struct fixture *fx = *state;
	struct elf_file out;
	Elf_Data *dout;
	GElf_Shdr so;
	char path[256];
	size_t n;
	bool found_counter = false, found_twice = false, found_btf_ids = false;

	strip_prog(fx, "out-symbols", path, sizeof(path));
	/* .BTF_ids lies between .rodata and .data: the sections after it are renumbered. */
	assert_true(assert_symbols_follow_sections(fx->prog, path) > 0);
	elf_file_open(&out, path);
	assert_non_null(gelf_getshdr(find_scn(&out, ".symtab"), &so));
	dout = elf_getdata(find_scn(&out, ".symtab"), NULL);
	assert_non_null(dout);
	n = so.sh_size / so.sh_entsize;
	assert_true(n > 10);
	for (size_t i = 0; i < n; i++) {
		GElf_Sym b;
		const char *nb;

		assert_non_null(gelf_getsym(dout, (int) i, &b));
		nb = elf_strptr(out.elf, so.sh_link, b.st_name);
		assert_non_null(nb);
		if (streq(nb, "kts_probe_counter")) {
			found_counter = true;
			assert_int_not_equal(b.st_value, 0);
			assert_string_equal(name_of_index(&out, b.st_shndx), ".data");
		}
		if (streq(nb, "kts_probe_btf_ids")) {
			/* Its section is gone; its address stays, as an absolute symbol. */
			found_btf_ids = true;
			assert_int_equal(b.st_shndx, SHN_ABS);
			assert_int_not_equal(b.st_value, 0);
		}
		if (streq(nb, "kts_probe_twice")) {
			GElf_Shdr text;

			/* The function still points into .text, now NOBITS. */
			found_twice = true;
			assert_non_null(gelf_getshdr(elf_getscn(out.elf, b.st_shndx), &text));
			assert_int_equal(text.sh_type, SHT_NOBITS);
			assert_true(b.st_value >= text.sh_addr);
			assert_true(b.st_value < text.sh_addr + text.sh_size);
		}
	}
	assert_true(found_counter);
	assert_true(found_twice);
	assert_true(found_btf_ids);
	elf_file_close(&out);
}
static void test_reports_sizes_and_shrinks(void **state)
{
	const struct fixture *fx = *state;
	uint64_t before = 0, after = 0;
	char path[256];

	path_in(fx, "out-sizes", path, sizeof(path));
	assert_int_equal(strip_vmlinux(fx->prog, path, &before, &after), 0);
	assert_int_equal(before, file_size(fx->prog));
	assert_int_equal(after, file_size(path));
	assert_true(after < before);
	/* NULL size pointers are allowed. */
	assert_int_equal(strip_vmlinux(fx->prog, path, NULL, NULL), 0);
	assert_int_equal(file_size(path), after);
	assert_int_equal(hidden_entries(fx->dir), 0);
}

static void test_readelf_reads_output_without_complaint(void **state)
{
	const struct fixture *fx = *state;
	char path[256];

	strip_prog(fx, "out-readelf", path, sizeof(path));
	assert_readelf_clean(fx, "-S -W", path);
	/* Segments, symbols, notes, dynamic section, versions: everything readelf parses. */
	assert_readelf_clean(fx, "-a -W", path);
}

static void test_program_headers_stay_consistent(void **state)
{
	const struct fixture *fx = *state;
	struct elf_file in, out;
	size_t n_in, n_out;
	GElf_Shdr rodata_in, rodata_out;
	char path[256];
	bool rodata_mapped = false, note_seen = false;

	strip_prog(fx, "out-phdrs", path, sizeof(path));
	elf_file_open(&in, fx->prog);
	elf_file_open(&out, path);
	assert_int_equal(elf_getphdrnum(in.elf, &n_in), 0);
	assert_int_equal(elf_getphdrnum(out.elf, &n_out), 0);
	assert_int_equal(n_out, n_in);
	assert_true(n_in > 0);
	rodata_in = shdr_of(&in, ".rodata");
	rodata_out = shdr_of(&out, ".rodata");

	for (size_t i = 0; i < n_in; i++) {
		GElf_Phdr a, b;

		assert_non_null(gelf_getphdr(in.elf, (int) i, &a));
		assert_non_null(gelf_getphdr(out.elf, (int) i, &b));
		assert_int_equal(b.p_type, a.p_type);
		assert_int_equal(b.p_vaddr, a.p_vaddr);
		assert_int_equal(b.p_memsz, a.p_memsz);
		assert_int_equal(b.p_flags, a.p_flags);
		assert_true(b.p_filesz <= a.p_filesz);
		assert_true(b.p_offset + b.p_filesz <= file_size(path));
		if (b.p_align > 1)
			assert_int_equal(b.p_offset % b.p_align, b.p_vaddr % b.p_align);

		/* Notes (the build-id) are readable through their segment, byte for byte. */
		if (a.p_type == PT_NOTE || a.p_type == PT_INTERP) {
			Elf_Data *ca = elf_getdata_rawchunk(in.elf, (int64_t) a.p_offset,
							    a.p_filesz, ELF_T_BYTE);
			Elf_Data *cb = elf_getdata_rawchunk(out.elf, (int64_t) b.p_offset,
							    b.p_filesz, ELF_T_BYTE);

			note_seen |= a.p_type == PT_NOTE;
			assert_int_equal(b.p_filesz, a.p_filesz);
			assert_non_null(ca);
			assert_non_null(cb);
			assert_memory_equal(cb->d_buf, ca->d_buf, a.p_filesz);
		}

		/* The load segment that starts with .rodata still maps it from the file, at
		 * the same place relative to the segment. */
		if (a.p_type == PT_LOAD && rodata_in.sh_offset == a.p_offset) {
			rodata_mapped = true;
			assert_true(b.p_filesz >= rodata_out.sh_size);
			assert_int_equal(rodata_out.sh_offset, b.p_offset);
		}
		/* The code segment has no file bytes left. */
		if (a.p_type == PT_LOAD && (a.p_flags & PF_X))
			assert_int_equal(b.p_filesz, 0);
	}
	assert_true(rodata_mapped);
	assert_true(note_seen);
	elf_file_close(&out);
	elf_file_close(&in);
}

static void test_relocatable_object(void **state)
{
	const struct fixture *fx = *state;
	struct elf_file in, out;
	uint64_t before = 0, after = 0;
	GElf_Shdr b;
	char path[256];

	path_in(fx, "out-object.o", path, sizeof(path));
	assert_int_equal(strip_vmlinux(fx->obj, path, &before, &after), 0);
	assert_true(after < before);
	assert_readelf_clean(fx, "-S -W", path);
	assert_readelf_clean(fx, "-a -W", path);

	elf_file_open(&in, fx->obj);
	elf_file_open(&out, path);
	b = shdr_of(&out, ".text");
	assert_int_equal(b.sh_type, SHT_NOBITS);
	/* Relocations are not allocated and patch bytes that are gone: deleted, with the
	 * sections after them renumbered and the symbols following their sections. */
	assert_int_equal(shdr_of(&in, ".rela.text").sh_type, SHT_RELA);
	assert_null(find_scn(&out, ".rela.text"));
	elf_file_close(&out);
	elf_file_close(&in);
	assert_sections_follow(fx, fx->obj, path);
	assert_true(assert_symbols_follow_sections(fx->obj, path) > 0);
}
static void test_elfclass32_object(void **state)
{
	const struct fixture *fx = *state;
	struct elf_file in, out;
	Elf_Data *da, *db;
	uint64_t before = 0, after = 0;
	char path[256];

	if (!fx->obj32[0]) {
		print_message("# objcopy cannot write elf32-x86-64 here: 32-bit ELF not checked\n");
		skip();
	}
	path_in(fx, "out-object32.o", path, sizeof(path));
	assert_int_equal(strip_vmlinux(fx->obj32, path, &before, &after), 0);
	assert_true(after < before);
	assert_readelf_clean(fx, "-a -W", path);
	elf_file_open(&in, fx->obj32);
	elf_file_open(&out, path);
	assert_int_equal(gelf_getclass(out.elf), ELFCLASS32);
	assert_int_equal(shdr_of(&out, ".text").sh_type, SHT_NOBITS);
	assert_null(find_scn(&out, ".debug_info"));
	da = elf_rawdata(find_scn(&in, ".BTF"), NULL);
	db = elf_rawdata(find_scn(&out, ".BTF"), NULL);
	assert_non_null(da);
	assert_non_null(db);
	assert_int_equal(db->d_size, da->d_size);
	assert_memory_equal(db->d_buf, da->d_buf, da->d_size);
	elf_file_close(&out);
	elf_file_close(&in);
	assert_sections_follow(fx, fx->obj32, path);
	assert_true(assert_symbols_follow_sections(fx->obj32, path) > 0);
}

static void test_bpftool_reads_real_btf_after_strip(void **state)
{
	const struct fixture *fx = *state;
	char path[256], dump[256];
	_cleanup_free_ char *text = NULL;

	if (!fx->realbtf[0] || !fx->have_bpftool) {
		print_message("# pahole or bpftool is not installed: real BTF not checked\n");
		skip();
	}
	path_in(fx, "out-realbtf", path, sizeof(path));
	(void) snprintf(dump, sizeof(dump), "%s/btf.dump", fx->dir);
	assert_int_equal(strip_vmlinux(fx->realbtf, path, NULL, NULL), 0);
	/* libbpf (inside bpftool) finds and parses .BTF in the stripped ELF. */
	assert_int_equal(run("bpftool btf dump file '%s' >'%s' 2>&1", path, dump), 0);
	text = read_all(dump, NULL);
	assert_non_null(text);
	if (!strstr(text, "STRUCT 'kts_probe'"))
		fail_msg("bpftool did not show struct kts_probe: %s", text);
	assert_readelf_clean(fx, "-a -W", path);
}

static void test_not_elf_is_enoexec_and_leaves_nothing(void **state)
{
	const struct fixture *fx = *state;
	char in[256], out[256];
	char *why = NULL;
	uint64_t before = 7, after = 7;

	path_in(fx, "not-elf.txt", in, sizeof(in));
	path_in(fx, "out-notelf", out, sizeof(out));
	write_bytes(in, "this is not an ELF file\n", 24);
	assert_int_equal(strip_vmlinux_full(in, out, &before, &after, &why), -ENOEXEC);
	assert_non_null(why);
	assert_false(exists(out));
	assert_int_equal(hidden_entries(fx->dir), 0);
	/* Outputs are untouched on failure. */
	assert_int_equal(before, 7);
	assert_int_equal(after, 7);
	free(why);

	/* Empty file: also not an ELF file. */
	write_bytes(in, "", 0);
	assert_int_equal(strip_vmlinux(in, out, NULL, NULL), -ENOEXEC);
	assert_false(exists(out));
}

static void test_missing_input_is_enoent(void **state)
{
	const struct fixture *fx = *state;
	char in[256], out[256];

	path_in(fx, "does-not-exist", in, sizeof(in));
	path_in(fx, "out-missing", out, sizeof(out));
	assert_int_equal(strip_vmlinux(in, out, NULL, NULL), -ENOENT);
	assert_false(exists(out));
	assert_int_equal(hidden_entries(fx->dir), 0);
}

static void test_truncated_elf_is_enoexec(void **state)
{
	const struct fixture *fx = *state;
	_cleanup_free_ char *bytes = NULL;
	char in[256], out[256];
	size_t size = 0;
	char *why = NULL;

	bytes = read_all(fx->prog, &size);
	assert_non_null(bytes);
	path_in(fx, "truncated", in, sizeof(in));
	path_in(fx, "out-truncated", out, sizeof(out));

	/* Cut inside the section contents (the header tables are at the end: also gone). */
	write_bytes(in, bytes, size / 2);
	assert_int_equal(strip_vmlinux_full(in, out, NULL, NULL, &why), -ENOEXEC);
	assert_non_null(why);
	free(why);
	assert_false(exists(out));

	/* Cut inside the ELF header. */
	write_bytes(in, bytes, 20);
	assert_int_equal(strip_vmlinux(in, out, NULL, NULL), -ENOEXEC);
	assert_false(exists(out));

	/* Everything but the last byte: the section header table no longer fits. */
	write_bytes(in, bytes, size - 1);
	assert_int_equal(strip_vmlinux(in, out, NULL, NULL), -ENOEXEC);
	assert_false(exists(out));
	assert_int_equal(hidden_entries(fx->dir), 0);
}

static void test_section_past_end_is_enoexec(void **state)
{
	const struct fixture *fx = *state;
	_cleanup_free_ char *bytes = NULL;
	char in[256], out[256];
	size_t size = 0;
	char *why = NULL;

	/* Headers intact, but .symtab claims bytes beyond the end of the file. */
	bytes = read_all(fx->prog, &size);
	assert_non_null(bytes);
	raw_shdr(fx, bytes, ".symtab")->sh_size = (Elf64_Xword) size * 2;
	path_in(fx, "oversized", in, sizeof(in));
	path_in(fx, "out-oversized", out, sizeof(out));
	write_bytes(in, bytes, size);
	assert_int_equal(strip_vmlinux_full(in, out, NULL, NULL, &why), -ENOEXEC);
	assert_non_null(why);
	assert_non_null(strstr(why, ".symtab"));
	free(why);
	assert_false(exists(out));
}

static void test_alignment_zero_is_accepted(void **state)
{
	const struct fixture *fx = *state;
	_cleanup_free_ char *bytes = NULL;
	char in[256], out[256];
	size_t size = 0;
	struct elf_file ef;

	/* sh_addralign 0 means "no constraint", like 1: legal on kept and dropped sections. */
	bytes = read_all(fx->prog, &size);
	assert_non_null(bytes);
	raw_shdr(fx, bytes, ".strtab")->sh_addralign = 0;
	raw_shdr(fx, bytes, ".comment")->sh_addralign = 0;
	raw_shdr(fx, bytes, ".text")->sh_addralign = 0;
	path_in(fx, "align0", in, sizeof(in));
	path_in(fx, "out-align0", out, sizeof(out));
	write_bytes(in, bytes, size);
	assert_int_equal(strip_vmlinux(in, out, NULL, NULL), 0);
	elf_file_open(&ef, out);
	assert_int_equal(shdr_of(&ef, ".strtab").sh_type, SHT_STRTAB);
	assert_int_equal(shdr_of(&ef, ".text").sh_type, SHT_NOBITS);
	elf_file_close(&ef);
	assert_readelf_clean(fx, "-a -W", out);
}

static void test_fifo_input_does_not_hang(void **state)
{
	const struct fixture *fx = *state;
	char in[256], out[256];

	path_in(fx, "fifo", in, sizeof(in));
	path_in(fx, "out-fifo", out, sizeof(out));
	assert_int_equal(mkfifo(in, 0600), 0);
	assert_int_equal(strip_vmlinux(in, out, NULL, NULL), -ENOEXEC);
	assert_false(exists(out));
	(void) unlink(in);
}

static void test_no_symtab_is_enodata(void **state)
{
	const struct fixture *fx = *state;
	char in[256], out[256];
	char *why = NULL;

	path_in(fx, "stripped-all", in, sizeof(in));
	path_in(fx, "out-nosymtab", out, sizeof(out));
	assert_int_equal(run("objcopy --strip-all '%s' '%s' 2>/dev/null", fx->prog, in), 0);
	assert_int_equal(strip_vmlinux_full(in, out, NULL, NULL, &why), -ENODATA);
	assert_non_null(why);
	free(why);
	assert_false(exists(out));
	assert_int_equal(hidden_entries(fx->dir), 0);
}

static void test_failure_keeps_existing_output(void **state)
{
	const struct fixture *fx = *state;
	char in[256], out[256];
	_cleanup_free_ char *text = NULL;

	path_in(fx, "junk-input", in, sizeof(in));
	path_in(fx, "out-existing", out, sizeof(out));
	write_bytes(in, "\177ELF but then nothing", 21);
	write_bytes(out, "previous entry", 14);
	assert_int_equal(strip_vmlinux(in, out, NULL, NULL), -ENOEXEC);
	text = read_all(out, NULL);
	assert_non_null(text);
	assert_string_equal(text, "previous entry");
}

static void test_replaces_output_and_strips_in_place(void **state)
{
	const struct fixture *fx = *state;
	char out[256], copy[256];
	uint64_t before = 0, after = 0, again = 0;
	struct elf_file ef;
	struct stat st;

	/* An existing output is replaced whole. */
	path_in(fx, "out-replace", out, sizeof(out));
	write_bytes(out, "stale", 5);
	assert_int_equal(strip_vmlinux(fx->prog, out, NULL, &after), 0);
	assert_int_equal(file_size(out), after);
	assert_int_equal(stat(out, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	/* in == out works, and stripping a stripped file changes nothing more. */
	path_in(fx, "in-place", copy, sizeof(copy));
	assert_int_equal(run("cp '%s' '%s'", fx->prog, copy), 0);
	assert_int_equal(strip_vmlinux(copy, copy, &before, &after), 0);
	assert_int_equal(before, file_size(fx->prog));
	assert_int_equal(after, file_size(copy));
	assert_int_equal(strip_vmlinux(copy, copy, NULL, &again), 0);
	assert_int_equal(again, after);
	elf_file_open(&ef, copy);
	assert_int_equal(shdr_of(&ef, ".text").sh_type, SHT_NOBITS);
	elf_file_close(&ef);
	assert_readelf_clean(fx, "-a -W", copy);
	assert_int_equal(hidden_entries(fx->dir), 0);
}

static void test_bad_paths(void **state)
{
	const struct fixture *fx = *state;
	char out[256];

	/* Output directory missing: the temporary file cannot be made there. */
	(void) snprintf(out, sizeof(out), "%s/no-such-dir/vmlinux", fx->dir);
	assert_int_equal(strip_vmlinux(fx->prog, out, NULL, NULL), -ENOENT);
	/* Input is a directory. */
	path_in(fx, "out-dir", out, sizeof(out));
	assert_int_equal(strip_vmlinux(fx->dir, out, NULL, NULL), -EISDIR);
	assert_false(exists(out));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_input_is_meaningful),
		cmocka_unit_test(test_keeps_contents_byte_identical),
		cmocka_unit_test(test_code_and_data_become_nobits),
		cmocka_unit_test(test_only_keep_list_carries_bytes),
		cmocka_unit_test(test_debug_comment_and_btf_ids_sections_are_deleted),
		cmocka_unit_test(test_symbols_keep_names_and_values),
		cmocka_unit_test(test_reports_sizes_and_shrinks),
		cmocka_unit_test(test_readelf_reads_output_without_complaint),
		cmocka_unit_test(test_program_headers_stay_consistent),
		cmocka_unit_test(test_relocatable_object),
		cmocka_unit_test(test_elfclass32_object),
		cmocka_unit_test(test_bpftool_reads_real_btf_after_strip),
		cmocka_unit_test(test_not_elf_is_enoexec_and_leaves_nothing),
		cmocka_unit_test(test_missing_input_is_enoent),
		cmocka_unit_test(test_truncated_elf_is_enoexec),
		cmocka_unit_test(test_section_past_end_is_enoexec),
		cmocka_unit_test(test_alignment_zero_is_accepted),
		cmocka_unit_test(test_fifo_input_does_not_hang),
		cmocka_unit_test(test_no_symtab_is_enodata),
		cmocka_unit_test(test_failure_keeps_existing_output),
		cmocka_unit_test(test_replaces_output_and_strips_in_place),
		cmocka_unit_test(test_bad_paths),
	};

	return cmocka_run_group_tests_name("strip", tests, group_setup, group_teardown);
}
