/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdint.h>

/*
 * Keep-list strip of a vmlinux for the kernel cache (DESIGN §5 "Strip").
 *
 * The cached vmlinux is for symbolisation and BPF work, not for booting: it keeps
 * what perf, bpftool/libbpf and drgn-style tools read without DWARF, and drops the
 * rest, typically shrinking a debug build's vmlinux by an order of magnitude.
 *
 * What the output contains:
 *  - the ELF header and every program header;
 *  - contents of .symtab, its string table (.strtab), a .symtab_shndx that extends
 *    it, .shstrtab, .BTF, .BTF.ext and .rodata (the IKCONFIG blob lives there), plus
 *    two kinds of tiny metadata that program headers point at and readers parse:
 *    allocated SHT_NOTE sections (the GNU build-id, by which perf matches a vmlinux to
 *    a running kernel; the PVH entry note) and .interp, when a PT_INTERP segment names
 *    it. All byte-identical but .symtab/.symtab_shndx (section indices renumbered) and
 *    .shstrtab (rebuilt with the surviving names only);
 *  - every other SHF_ALLOC section (code and data) becomes SHT_NOBITS: no file bytes,
 *    but its address, size, flags and links stay, so symbols still resolve to sections;
 *  - every other section is deleted, header and name included: the non-allocated ones
 *    (.debug_*, .comment, relocations from --emit-relocs, section groups, ...) and
 *    .BTF_ids (resolve_btfids' build-time input). Tools that test for a .debug_info
 *    section must not find one.
 *
 * Deleting sections renumbers the rest (input order is kept), so everything that names
 * a section by index follows: sh_link, sh_info where it is a section index (SHT_REL,
 * SHT_RELA, SHF_INFO_LINK), e_shstrndx (and the extended numbering in section 0), and
 * st_shndx of every .symtab entry; symbol names, values, sizes and order do not change.
 * A symbol whose section was deleted becomes SHN_ABS with its address kept (SHN_UNDEF
 * in a relocatable object, whose values are section offsets); a section symbol of a
 * deleted section becomes a null local symbol. readelf and libbpf (`bpftool btf dump
 * file`) accept the result.
 *
 * The file is compacted: dropped bytes are cut out in multiples of 4 KiB, so kept
 * contents keep their page congruence and runs of kept sections keep their relative
 * layout. Program headers are kept and made consistent: a segment keeps file bytes
 * (p_filesz) only for the leading run of its original contents that survived intact
 * (the PT_PHDR table, notes, .interp, a segment that starts with .rodata); otherwise
 * its p_filesz is 0 while p_memsz, p_vaddr and p_flags stay. Where cutting broke
 * p_offset ≡ p_vaddr (mod p_align), p_align is lowered to the largest power of two for
 * which it holds again (at least 4 KiB when the input was page-congruent).
 *
 * The output is written to a temporary file in the destination directory, fsync'd and
 * renamed over `out`, then the directory is fsync'd: `out` is either untouched or the
 * complete new file, and no temporary file is left behind on failure. in and out may
 * be the same path. Only strip.c and caps-btf.c use libelf (elf-dl.h).
 */

/*
 * Strips `in` into `out` as described above. On success returns 0 and, where the
 * pointers are not NULL, the byte sizes of the input and of the written output.
 *
 * Errors (negative errno):
 *  -ENOENT   `in` does not exist (or the directory of `out` does not);
 *  -EISDIR   `in` is a directory;
 *  -ENOEXEC  `in` is not an ELF file, or is truncated or malformed (a section or
 *            header table extends past the end of the file, unreadable headers);
 *  -ENODATA  `in` is an ELF file without a .symtab with at least one symbol (an
 *            already stripped image: nothing left worth caching);
 *  other     the errno of a failed open/write/fsync/rename (-EACCES, -ENOSPC, ...).
 */
int strip_vmlinux(const char *in, const char *out, uint64_t *ret_size_before,
		  uint64_t *ret_size_after);

/*
 * strip_vmlinux() with a one-line reason for the user: on failure, if ret_why is not
 * NULL, *ret_why is set to a malloc'd explanation (caller frees), e.g. "section 12
 * ('.text') extends past the end of the file (truncated?)", or NULL when the errno says
 * it all. *ret_why is not written on success. The path is not in the reason: the caller
 * names the file.
 */
int strip_vmlinux_full(const char *in, const char *out, uint64_t *ret_size_before,
		       uint64_t *ret_size_after, char **ret_why);

/* Loads libelf (elf-dl.c; strip_vmlinux*() do it): 0, or -ELIBACC/-ELIBBAD and *ret_why. */
int elf_dl_load(char **ret_why);
