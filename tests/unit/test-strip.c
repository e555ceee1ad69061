/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * strip.c on real ELF files (strip-probe.c): what is kept byte for byte, what becomes
 * NOBITS, what is deleted, and that section numbers, links, symbols and program headers
 * stay consistent for readelf and bpftool.
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
#include "test-skip.h"

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

	test_need(fx->obj32[0], "objcopy cannot write elf32-x86-64 (binutils)");
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

	test_need(fx->realbtf[0] && fx->have_bpftool, "pahole -J or bpftool (dwarves, bpftool)");
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
	};

	return cmocka_run_group_tests_name("strip", tests, strip_probe_setup, strip_probe_teardown);
}

