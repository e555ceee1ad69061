/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmlinux keep-list strip with libelf; the contract is in strip.h.
 *
 * Shape of the work: read the input through a read-only mapping (ELF_C_READ_MMAP), decide
 * per section what survives, number the surviving sections, rewrite the two tables that
 * name sections by index or by name (.symtab's st_shndx, .shstrtab), compute the output
 * layout ourselves (ELF_F_LAYOUT) so that program headers can be kept consistent, then let
 * libelf write a new file whose other kept section data point straight into the input
 * mapping: no other section is copied in memory. Section contents are handled as raw bytes
 * (elf_rawdata, ELF_T_BYTE), so they are byte-identical whatever the file's endianness;
 * headers and the rewritten symbol table go through gelf/libelf, which convert.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elf-dl.h"
#include "log.h"
#include "macro.h"
#include "strip.h"

/*
 * Cut granularity with program headers: dropped bytes are removed in multiples of the page
 * size, so every kept byte keeps its offset modulo the page size (ELF wants p_offset ≡
 * p_vaddr modulo the page size for loadable segments, and section alignments up to a page
 * come for free). Without program headers the largest alignment of a kept section will do.
 */
#define STRIP_PAGE UINT64_C(4096)

/* Section names whose contents are kept (DESIGN §5), besides what strip_action_for() adds. */
static const char *const keep_names[] = {
	".symtab", ".strtab", ".shstrtab", ".BTF", ".BTF.ext", ".rodata",
};

/* Allocated sections deleted although allocated: build-time metadata nobody reads from a
 * vmlinux (.BTF_ids is resolve_btfids' input, patched into .BTF's users at link time). */
static const char *const delete_names[] = {
	".BTF_ids",
};

enum strip_action {
	STRIP_DELETE,    /* gone: header, name and contents (debug, comment, relocations) */
	STRIP_UNTOUCHED, /* allocated, no file bytes in the input (.bss): header as is */
	STRIP_KEEP,      /* contents kept (byte for byte, but for .symtab and .shstrtab) */
	STRIP_NOBITS,    /* allocated: SHT_NOBITS, address and size kept */
};

/* A byte range of the input file that has contents: the ELF header, the program header
 * table, or a section's data. Kept items get an output offset; dropped ones vanish. */
struct strip_item {
	uint64_t off, size;
	uint64_t out; /* output offset; kept items only */
	bool kept;
};

/* Rewritten contents of a kept section, in libelf's memory representation of type. */
struct strip_buf {
	void *buf;
	size_t size;
	Elf_Type type;
};

struct strip_ctx {
	Elf *in;
	uint64_t in_size;
	GElf_Ehdr ehdr;
	size_t shnum, phnum, shstrndx;
	enum strip_action *action; /* per input section index */
	size_t *newndx;            /* per input section index: output index, 0 if deleted */
	size_t out_shnum;          /* sections in the output, with the null section 0 */
	size_t *newname;           /* per input section index: output sh_name */
	struct strip_buf *bufs;    /* per input section index: rewritten contents, or none */
	struct strip_item *items;  /* sorted by input offset */
	size_t n_items;
	struct strip_item *kept;   /* the kept items, same order */
	size_t n_kept;
	uint64_t out_end; /* end of the last kept item in the output */
	char *why;
};

static void strip_ctx_done(struct strip_ctx *c)
{
	if (c->bufs)
		for (size_t i = 0; i < c->shnum; i++)
			free(c->bufs[i].buf);
	free(c->bufs);
	free(c->action);
	free(c->newndx);
	free(c->newname);
	free(c->items);
	free(c->kept);
	free(c->why);
	if (c->in)
		(void) elf_end(c->in);
}

static void elf_endp(Elf **e)
{
	if (*e)
		(void) elf_end(*e);
}

/* Removes the temporary output on every path that did not rename it into place. */
static void unlink_and_freep(char **p)
{
	if (*p) {
		(void) unlink(*p);
		free(*p);
	}
}

/* Records the first reason only: the innermost failure says most. Returns r. */
_printf_(3, 4) static int strip_fail(struct strip_ctx *c, int r, const char *fmt, ...)
{
	va_list ap;

	if (c->why)
		return r;
	va_start(ap, fmt);
	if (vasprintf(&c->why, fmt, ap) < 0)
		c->why = NULL;
	va_end(ap);
	return r;
}

static const char *section_name(struct strip_ctx *c, size_t sh_name)
{
	const char *n = elf_strptr(c->in, c->shstrndx, sh_name);
	return n ? n : "";
}

static bool name_in(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (streq(name, names[i]))
			return true;
	return false;
}

static int cmp_items(const void *a, const void *b)
{
	const struct strip_item *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return 0;
}

/* Reads the headers and refuses what is not a complete ELF file with a symbol table. */
static int strip_check_input(struct strip_ctx *c)
{
	GElf_Shdr shdr;
	size_t symtabs = 0, syms = 0;

	if (elf_kind(c->in) != ELF_K_ELF)
		return strip_fail(c, -ENOEXEC, "not an ELF file");
	if (!gelf_getehdr(c->in, &c->ehdr))
		return strip_fail(c, -ENOEXEC, "unreadable ELF header: %s", elf_errmsg(-1));
	if (elf_getshdrnum(c->in, &c->shnum) < 0 || elf_getshdrstrndx(c->in, &c->shstrndx) < 0)
		return strip_fail(c, -ENOEXEC, "unreadable section header table: %s",
				  elf_errmsg(-1));
	if (elf_getphdrnum(c->in, &c->phnum) < 0)
		return strip_fail(c, -ENOEXEC, "unreadable program header table: %s",
				  elf_errmsg(-1));
	if (c->phnum > 0 &&
	    (c->ehdr.e_phoff > c->in_size ||
	     (uint64_t) c->phnum * c->ehdr.e_phentsize > c->in_size - c->ehdr.e_phoff))
		return strip_fail(c, -ENOEXEC, "the program header table extends past the end "
				  "of the file (truncated?)");
	for (size_t i = 0; i < c->phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(c->in, (int) i, &ph))
			return strip_fail(c, -ENOEXEC, "unreadable program header %zu: %s", i,
					  elf_errmsg(-1));
		if (ph.p_filesz > 0 &&
		    (ph.p_offset > c->in_size || ph.p_filesz > c->in_size - ph.p_offset))
			return strip_fail(c, -ENOEXEC, "segment %zu extends past the end of the "
					  "file (truncated?)", i);
	}
	/* libelf reports no sections at all when their table does not fit in the file. */
	if (c->ehdr.e_shoff > 0) {
		uint64_t n = MAX(c->shnum, (size_t) MAX(c->ehdr.e_shnum, 1));

		if (c->ehdr.e_shoff > c->in_size ||
		    n * c->ehdr.e_shentsize > c->in_size - c->ehdr.e_shoff)
			return strip_fail(c, -ENOEXEC, "the section header table extends past the "
					  "end of the file (truncated?)");
	}
	if (c->shnum == 0)
		return strip_fail(c, -ENODATA, "no section headers, hence no symbol table");

	for (size_t i = 1; i < c->shnum; i++) {
		Elf_Scn *scn = elf_getscn(c->in, i);

		if (!scn || !gelf_getshdr(scn, &shdr))
			return strip_fail(c, -ENOEXEC, "unreadable section header %zu: %s", i,
					  elf_errmsg(-1));
		if (shdr.sh_type != SHT_NOBITS && shdr.sh_type != SHT_NULL &&
		    (shdr.sh_offset > c->in_size || shdr.sh_size > c->in_size - shdr.sh_offset))
			return strip_fail(c, -ENOEXEC, "section %zu ('%s') extends past the end of "
					  "the file (truncated?)", i,
					  section_name(c, shdr.sh_name));
		if (shdr.sh_type == SHT_SYMTAB) {
			symtabs++;
			if (shdr.sh_entsize > 0)
				syms = MAX(syms, (size_t) (shdr.sh_size / shdr.sh_entsize));
		}
	}
	if (symtabs == 0)
		return strip_fail(c, -ENODATA, "no symbol table (.symtab): already stripped?");
	/* Entry 0 is the reserved null symbol; with nothing else there is nothing to keep. */
	if (syms <= 1)
		return strip_fail(c, -ENODATA, "the symbol table (.symtab) holds no symbols");
	return 0;
}

/* True when the file range of shdr lies inside a PT_INTERP segment. */
static bool in_interp_segment(struct strip_ctx *c, const GElf_Shdr *shdr)
{
	GElf_Phdr ph;

	for (size_t i = 0; i < c->phnum; i++) {
		if (!gelf_getphdr(c->in, (int) i, &ph) || ph.p_type != PT_INTERP)
			continue;
		if (shdr->sh_offset >= ph.p_offset &&
		    shdr->sh_offset + shdr->sh_size <= ph.p_offset + ph.p_filesz)
			return true;
	}
	return false;
}

/* What happens to section i (header shdr): the keep-list of strip.h, by name, type, link. */
static enum strip_action strip_action_for(struct strip_ctx *c, size_t i, const GElf_Shdr *shdr,
					  const bool *linked_by_symtab)
{
	const char *name = section_name(c, shdr->sh_name);
	bool alloc = shdr->sh_flags & SHF_ALLOC;

	if (shdr->sh_type == SHT_NULL || name_in(name, delete_names, ELEMENTSOF(delete_names)))
		return STRIP_DELETE;
	/* Non-allocated NOBITS: the empty debug headers of an older strip, stripped again. */
	if (shdr->sh_type == SHT_NOBITS)
		return alloc ? STRIP_UNTOUCHED : STRIP_DELETE;
	if (name_in(name, keep_names, ELEMENTSOF(keep_names)) || i == c->shstrndx ||
	    shdr->sh_type == SHT_SYMTAB || linked_by_symtab[i] ||
	    (shdr->sh_type == SHT_NOTE && alloc) || in_interp_segment(c, shdr))
		return STRIP_KEEP;
	/* Code and data keep their headers (symbols resolve to them); the rest goes, groups
	 * (which list section indices) and relocations (which patch deleted bytes) too. */
	return alloc ? STRIP_NOBITS : STRIP_DELETE;
}

/* Fills c->action, then numbers the surviving sections in input order (c->newndx). */
static int strip_decide(struct strip_ctx *c)
{
	_cleanup_free_ bool *linked_by_symtab = NULL;
	GElf_Shdr shdr;

	c->action = calloc(c->shnum, sizeof(*c->action));
	c->newndx = calloc(c->shnum, sizeof(*c->newndx));
	linked_by_symtab = calloc(c->shnum, sizeof(*linked_by_symtab));
	if (!c->action || !c->newndx || !linked_by_symtab)
		return -ENOMEM;

	/* The symbol table's string table and extended index table are kept whatever their
	 * names: without them the kept symbols cannot be read. */
	for (size_t i = 1; i < c->shnum; i++) {
		if (!gelf_getshdr(elf_getscn(c->in, i), &shdr))
			return strip_fail(c, -ENOEXEC, "unreadable section header %zu", i);
		if (shdr.sh_type == SHT_SYMTAB && shdr.sh_link < c->shnum)
			linked_by_symtab[shdr.sh_link] = true;
		if (shdr.sh_type == SHT_SYMTAB_SHNDX)
			linked_by_symtab[i] = true;
	}

	c->out_shnum = 1;
	for (size_t i = 1; i < c->shnum; i++) {
		if (!gelf_getshdr(elf_getscn(c->in, i), &shdr))
			return strip_fail(c, -ENOEXEC, "unreadable section header %zu", i);
		c->action[i] = strip_action_for(c, i, &shdr, linked_by_symtab);
		if (c->action[i] != STRIP_DELETE)
			c->newndx[i] = c->out_shnum++;
	}
	return 0;
}

/* The output index of input section index ndx; 0 when it is deleted or out of range. */
static size_t strip_renumber(const struct strip_ctx *c, size_t ndx)
{
	return ndx < c->shnum ? c->newndx[ndx] : 0;
}

/* Stores sym as entry i of a symbol table held in libelf's memory representation. */
static void sym_store(int class, void *buf, size_t i, const GElf_Sym *sym)
{
	if (class == ELFCLASS32) {
		Elf32_Sym *t = (Elf32_Sym *) buf + i;

		t->st_name = (Elf32_Word) sym->st_name;
		t->st_value = (Elf32_Addr) sym->st_value;
		t->st_size = (Elf32_Word) sym->st_size;
		t->st_info = sym->st_info;
		t->st_other = sym->st_other;
		t->st_shndx = sym->st_shndx;
	} else {
		Elf64_Sym *t = (Elf64_Sym *) buf + i;

		t->st_name = (Elf64_Word) sym->st_name;
		t->st_value = sym->st_value;
		t->st_size = sym->st_size;
		t->st_info = sym->st_info;
		t->st_other = sym->st_other;
		t->st_shndx = sym->st_shndx;
	}
}

/*
 * The output of one symbol: its section renumbered. A symbol of a deleted section keeps
 * its address as SHN_ABS where values are addresses (executables, shared objects) and
 * becomes SHN_UNDEF in a relocatable object (where the value was an offset in that
 * section); a section symbol of a deleted section becomes a null local symbol. *xndx is
 * the extended index (SHN_XINDEX), 0 when st_shndx holds the index itself.
 */
static void strip_symbol(const struct strip_ctx *c, GElf_Sym *sym, Elf32_Word *xndx)
{
	size_t ndx = sym->st_shndx == SHN_XINDEX ? *xndx : sym->st_shndx, out;

	if (sym->st_shndx == SHN_UNDEF ||
	    (sym->st_shndx >= SHN_LORESERVE && sym->st_shndx != SHN_XINDEX))
		return; /* SHN_ABS, SHN_COMMON, ...: no section, nothing to renumber */
	out = strip_renumber(c, ndx);
	*xndx = 0;
	if (out >= SHN_LORESERVE) {
		sym->st_shndx = SHN_XINDEX;
		*xndx = (Elf32_Word) out;
	} else if (out > 0)
		sym->st_shndx = (uint16_t) out;
	else if (GELF_ST_TYPE(sym->st_info) == STT_SECTION)
		*sym = (GElf_Sym) { .st_info = GELF_ST_INFO(STB_LOCAL, STT_NOTYPE) };
	else
		sym->st_shndx = c->ehdr.e_type == ET_REL ? SHN_UNDEF : SHN_ABS;
}

/* The translated (memory representation) contents of section ndx, copied into *ret. */
static int strip_copy_data(struct strip_ctx *c, size_t ndx, Elf_Type type, Elf_Data **ret_src,
			   struct strip_buf *ret)
{
	Elf_Data *src = elf_getdata(elf_getscn(c->in, ndx), NULL);

	if (!src || src->d_type != type)
		return strip_fail(c, -ENOEXEC, "unreadable contents of section %zu: %s", ndx,
				  elf_errmsg(-1));
	ret->buf = malloc(MAX(src->d_size, (size_t) 1));
	if (!ret->buf)
		return -ENOMEM;
	memcpy(ret->buf, src->d_buf, src->d_size);
	ret->size = src->d_size;
	ret->type = type;
	*ret_src = src;
	return 0;
}

/* Rewrites the symbol table in section symndx (and its extended index table, if any)
 * with every st_shndx renumbered; the results wait in c->bufs for strip_write(). */
static int strip_rewrite_symtab(struct strip_ctx *c, size_t symndx)
{
	Elf_Data *syms, *xsrc = NULL;
	GElf_Shdr shdr;
	size_t xndx_sec = 0, n;
	int class = gelf_getclass(c->in), r;

	for (size_t i = 1; i < c->shnum; i++)
		if (gelf_getshdr(elf_getscn(c->in, i), &shdr) &&
		    shdr.sh_type == SHT_SYMTAB_SHNDX && shdr.sh_link == symndx)
			xndx_sec = i;
	r = strip_copy_data(c, symndx, ELF_T_SYM, &syms, &c->bufs[symndx]);
	if (r < 0)
		return r;
	if (xndx_sec > 0) {
		r = strip_copy_data(c, xndx_sec, ELF_T_WORD, &xsrc, &c->bufs[xndx_sec]);
		if (r < 0)
			return r;
	}
	n = syms->d_size / gelf_fsize(c->in, ELF_T_SYM, 1, EV_CURRENT);
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		Elf32_Word xndx = 0;

		if (!gelf_getsymshndx(syms, xsrc, (int) i, &sym, &xndx))
			return strip_fail(c, -ENOEXEC, "unreadable symbol %zu: %s", i,
					  elf_errmsg(-1));
		strip_symbol(c, &sym, &xndx);
		if (sym.st_shndx == SHN_XINDEX && !xsrc)
			return strip_fail(c, -ENOEXEC, "symbol %zu needs an extended section "
					  "index but there is no .symtab_shndx", i);
		sym_store(class, c->bufs[symndx].buf, i, &sym);
		if (xsrc && i < xsrc->d_size / sizeof(Elf32_Word))
			((Elf32_Word *) c->bufs[xndx_sec].buf)[i] = xndx;
	}
	return 0;
}

struct strip_name {
	const char *name;
	size_t len, ndx;
};

static int cmp_names_longest_first(const void *a, const void *b)
{
	const struct strip_name *x = a, *y = b;

	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->ndx < y->ndx ? -1 : x->ndx > y->ndx;
}

/*
 * Rebuilds the section-name table with the names of the surviving sections only, so the
 * names of deleted sections do not linger in the file. Longest names first, each shorter
 * one reusing the tail of a longer one where it can (".text" inside ".rela.text"): the
 * result is never larger than the input table, so it fits where the input table was.
 * Left as is when it also holds other names (a symbol table's string table shared with it).
 */
static int strip_rewrite_shstrtab(struct strip_ctx *c)
{
	_cleanup_free_ struct strip_name *names = NULL;
	GElf_Shdr shdr, str;
	struct strip_buf *b = &c->bufs[c->shstrndx];
	size_t n = 0, pos = 1;

	if (c->shstrndx == 0 || c->action[c->shstrndx] != STRIP_KEEP ||
	    !gelf_getshdr(elf_getscn(c->in, c->shstrndx), &str))
		return 0;
	for (size_t i = 1; i < c->shnum; i++)
		if (c->action[i] != STRIP_DELETE && gelf_getshdr(elf_getscn(c->in, i), &shdr) &&
		    shdr.sh_link == c->shstrndx)
			return 0;

	names = calloc(c->shnum, sizeof(*names));
	b->buf = calloc(1, MAX(str.sh_size, (uint64_t) 1));
	if (!names || !b->buf)
		return -ENOMEM;
	for (size_t i = 1; i < c->shnum; i++) {
		if (c->action[i] == STRIP_DELETE || !gelf_getshdr(elf_getscn(c->in, i), &shdr))
			continue;
		names[n].name = section_name(c, shdr.sh_name);
		names[n].len = strlen(names[n].name);
		names[n++].ndx = i;
	}
	qsort(names, n, sizeof(*names), cmp_names_longest_first);
	for (size_t i = 0; i < n; i++) {
		const char *hit = memmem(b->buf, pos, names[i].name, names[i].len + 1);

		if (names[i].len == 0)
			hit = b->buf;
		if (!hit) {
			if (pos + names[i].len + 1 > str.sh_size) {
				free(TAKE_PTR(b->buf)); /* cannot happen; keep the input table */
				return 0;
			}
			hit = memcpy((char *) b->buf + pos, names[i].name, names[i].len + 1);
			pos += names[i].len + 1;
		}
		c->newname[names[i].ndx] = (size_t) (hit - (const char *) b->buf);
	}
	b->size = pos;
	b->type = ELF_T_BYTE;
	return 0;
}

/* Everything that names a section by index or by name, rewritten for the new numbering. */
static int strip_rewrite(struct strip_ctx *c)
{
	GElf_Shdr shdr;
	int r;

	c->bufs = calloc(c->shnum, sizeof(*c->bufs));
	c->newname = calloc(c->shnum, sizeof(*c->newname));
	if (!c->bufs || !c->newname)
		return -ENOMEM;
	for (size_t i = 1; i < c->shnum; i++) {
		if (!gelf_getshdr(elf_getscn(c->in, i), &shdr))
			return strip_fail(c, -ENOEXEC, "unreadable section header %zu", i);
		c->newname[i] = shdr.sh_name;
		if (shdr.sh_type == SHT_SYMTAB && c->action[i] == STRIP_KEEP) {
			r = strip_rewrite_symtab(c, i);
			if (r < 0)
				return r;
		}
	}
	return strip_rewrite_shstrtab(c);
}

/* The size of kept section i in the output: that of its rewritten contents, if any. */
static uint64_t strip_out_size(const struct strip_ctx *c, size_t i, const GElf_Shdr *shdr)
{
	return c->bufs[i].buf ? c->bufs[i].size : shdr->sh_size;
}

/*
 * Output layout: kept items in input order, each at its input offset minus the bytes cut
 * so far. A cut happens only where dropped contents lie between two kept items, and removes
 * a multiple of the cut unit (see STRIP_PAGE), so runs of kept items with no dropped item
 * between them keep their relative layout (which is what lets a segment keep its leading
 * run, see strip_segment()).
 */
static int strip_layout(struct strip_ctx *c)
{
	GElf_Shdr shdr;
	size_t n = 0;
	uint64_t cur = 0, prev_end = 0, delta = 0, unit = 1;
	bool dropped_between = false;

	c->items = calloc(c->shnum + 2, sizeof(*c->items));
	if (!c->items)
		return -ENOMEM;

	c->items[n++] = (struct strip_item) {
		.off = 0,
		.size = gelf_fsize(c->in, ELF_T_EHDR, 1, EV_CURRENT),
		.kept = true,
	};
	if (c->phnum > 0)
		c->items[n++] = (struct strip_item) {
			.off = c->ehdr.e_phoff,
			.size = (uint64_t) c->phnum * c->ehdr.e_phentsize,
			.kept = true,
		};
	for (size_t i = 1; i < c->shnum; i++) {
		if (!gelf_getshdr(elf_getscn(c->in, i), &shdr))
			return -ENOEXEC;
		if (c->action[i] == STRIP_UNTOUCHED || shdr.sh_type == SHT_NOBITS ||
		    shdr.sh_size == 0)
			continue;
		c->items[n++] = (struct strip_item) {
			.off = shdr.sh_offset,
			.size = strip_out_size(c, i, &shdr),
			.kept = c->action[i] == STRIP_KEEP,
		};
		if (c->action[i] == STRIP_KEEP) {
			uint64_t a = MAX(shdr.sh_addralign, (uint64_t) 1);

			unit = (a & (a - 1)) == 0 ? MAX(unit, MIN(a, STRIP_PAGE)) : STRIP_PAGE;
		}
	}
	if (c->phnum > 0)
		unit = STRIP_PAGE;
	qsort(c->items, n, sizeof(*c->items), cmp_items);
	c->n_items = n;

	for (size_t i = 0; i < n; i++) {
		struct strip_item *it = &c->items[i];

		if (!it->kept) {
			if (it->off >= prev_end)
				dropped_between = true;
			continue;
		}
		if (dropped_between && it->off >= prev_end) {
			/* The smallest free offset congruent to it->off; it->off >= cur holds
			 * because no kept item ever moves to a higher offset. */
			it->out = cur + (it->off - cur) % unit;
			delta = it->off - it->out;
		} else
			it->out = it->off - delta;
		cur = MAX(cur, it->out + it->size);
		prev_end = MAX(prev_end, it->off + it->size);
		dropped_between = false;
	}
	c->out_end = cur;

	c->kept = calloc(n, sizeof(*c->kept));
	if (!c->kept)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (c->items[i].kept)
			c->kept[c->n_kept++] = c->items[i];
	return 0;
}

/* Index of the last kept item starting at or before o; the ELF header at 0 always is one. */
static size_t strip_kept_before(const struct strip_ctx *c, uint64_t o)
{
	size_t lo = 0, hi = c->n_kept;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->kept[mid].off <= o)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Where input offset o lands in the output: used for the sh_offset of sections without
 * file bytes, so that they point near their neighbours and never past the contents. */
static uint64_t strip_map(const struct strip_ctx *c, uint64_t o)
{
	size_t i = strip_kept_before(c, o);
	const struct strip_item *prev = &c->kept[i];
	uint64_t v = prev->off <= o ? o - (prev->off - prev->out) : 0;

	return MIN(v, i + 1 < c->n_kept ? c->kept[i + 1].out : c->out_end);
}

/* Output offset of the kept item [off, off + size). Items may share a start offset
 * (empty ranges are never items, but two sections can overlap), so match the size too. */
static uint64_t strip_kept_out(const struct strip_ctx *c, uint64_t off, uint64_t size)
{
	for (size_t i = strip_kept_before(c, off) + 1; i-- > 0 && c->kept[i].off == off;)
		if (c->kept[i].size == size)
			return c->kept[i].out;
	return strip_map(c, off); /* not reached: every kept range is an item */
}

/*
 * A segment keeps file bytes for the leading run of its input contents that is kept and was
 * moved as one block; the first dropped item (or a change of shift) ends it. Anything else
 * becomes memory-only (p_filesz 0) at an offset congruent to p_vaddr. p_align is lowered
 * where the cut broke p_offset ≡ p_vaddr (mod p_align).
 */
static void strip_segment(const struct strip_ctx *c, const GElf_Phdr *in, GElf_Phdr *ret)
{
	GElf_Phdr ph = *in;
	uint64_t a = in->p_offset, b = in->p_offset + in->p_filesz, end = a, shift = 0;
	bool have_shift = false;

	for (size_t i = 0; in->p_filesz > 0 && i < c->n_items; i++) {
		const struct strip_item *it = &c->items[i];

		if (it->off >= b || it->off + it->size <= a)
			continue;
		if (!it->kept)
			break;
		if (have_shift && it->off - it->out != shift)
			break;
		shift = it->off - it->out;
		have_shift = true;
		end = MAX(end, MIN(b, it->off + it->size));
	}

	if (have_shift && end > a && a >= shift) {
		ph.p_offset = a - shift;
		ph.p_filesz = end - a;
	} else {
		uint64_t unit = ph.p_align > 1 ? ph.p_align : 1;

		if (ph.p_vaddr % unit > c->out_end)
			unit = MIN(unit, STRIP_PAGE);
		ph.p_offset = ph.p_vaddr % unit;
		ph.p_filesz = 0;
	}

	/* Only meaningful for a power-of-two p_align; other values are left as found. */
	if (ph.p_align > 1 && (ph.p_align & (ph.p_align - 1)) == 0)
		while (ph.p_align > 1 && ph.p_offset % ph.p_align != ph.p_vaddr % ph.p_align)
			ph.p_align >>= 1;
	*ret = ph;
}

/* Program headers right after the ELF header, where strip_layout() put them. */
static int strip_write_phdrs(struct strip_ctx *c, Elf *out)
{
	if (c->phnum == 0)
		return 0;
	if (!gelf_newphdr(out, c->phnum))
		return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
	for (size_t i = 0; i < c->phnum; i++) {
		GElf_Phdr ph_in, ph_out;

		if (!gelf_getphdr(c->in, (int) i, &ph_in))
			return strip_fail(c, -ENOEXEC, "unreadable program header %zu", i);
		strip_segment(c, &ph_in, &ph_out);
		if (!gelf_update_phdr(out, (int) i, &ph_out))
			return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
	}
	return 0;
}

/* The output header of surviving section i, from its input header shdr. */
static void strip_out_shdr(const struct strip_ctx *c, size_t i, GElf_Shdr *shdr)
{
	size_t link = strip_renumber(c, shdr->sh_link);

	/* 0 and 1 both mean "no constraint"; libelf's layout check wants at least 1. */
	if (shdr->sh_addralign == 0)
		shdr->sh_addralign = 1;
	switch (c->action[i]) {
	case STRIP_KEEP:
		shdr->sh_size = strip_out_size(c, i, shdr);
		shdr->sh_offset = strip_kept_out(c, shdr->sh_offset, shdr->sh_size);
		break;
	case STRIP_NOBITS:
		shdr->sh_type = SHT_NOBITS;
		shdr->sh_flags &= ~(GElf_Xword) SHF_COMPRESSED;
		shdr->sh_offset = strip_map(c, shdr->sh_offset);
		break;
	case STRIP_UNTOUCHED:
	case STRIP_DELETE: /* not reached: deleted sections have no output header */
		shdr->sh_offset = strip_map(c, shdr->sh_offset);
		break;
	}
	shdr->sh_name = c->newname[i];
	/* Group sections are never kept (they are not allocated). */
	shdr->sh_flags &= ~(GElf_Xword) SHF_GROUP;
	if (shdr->sh_link != 0 && link == 0)
		shdr->sh_flags &= ~(GElf_Xword) SHF_LINK_ORDER;
	shdr->sh_link = (GElf_Word) link;
	/* sh_info is a section index for relocations and where SHF_INFO_LINK says so. */
	if (shdr->sh_type == SHT_REL || shdr->sh_type == SHT_RELA ||
	    (shdr->sh_flags & SHF_INFO_LINK)) {
		shdr->sh_info = (GElf_Word) strip_renumber(c, shdr->sh_info);
		if (shdr->sh_info == 0)
			shdr->sh_flags &= ~(GElf_Xword) SHF_INFO_LINK;
	}
}

/* The contents of kept section i: rewritten by strip_rewrite(), or the input's raw bytes. */
static int strip_write_data(struct strip_ctx *c, size_t i, Elf_Scn *oscn)
{
	Elf_Scn *iscn = elf_getscn(c->in, i);
	Elf_Data *src = NULL, *dst;
	GElf_Shdr shdr;

	if (!gelf_getshdr(iscn, &shdr))
		return strip_fail(c, -ENOEXEC, "unreadable section header %zu", i);
	if (!c->bufs[i].buf) {
		src = elf_rawdata(iscn, NULL);
		if (!src || src->d_size != shdr.sh_size)
			return strip_fail(c, -ENOEXEC, "unreadable contents of section %zu "
					  "('%s'): %s", i, section_name(c, shdr.sh_name),
					  elf_errmsg(-1));
	}
	dst = elf_newdata(oscn);
	if (!dst)
		return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
	if (src) {
		/* Raw bytes, pointing into the input mapping: written as found. */
		dst->d_buf = src->d_buf;
		dst->d_size = src->d_size;
		dst->d_type = ELF_T_BYTE;
	} else {
		/* Memory representation: libelf converts it to the file's byte order. */
		dst->d_buf = c->bufs[i].buf;
		dst->d_size = c->bufs[i].size;
		dst->d_type = c->bufs[i].type;
	}
	dst->d_off = 0;
	dst->d_align = 1;
	dst->d_version = EV_CURRENT;
	return 0;
}

/* One output section per surviving input section, in input order. */
static int strip_write_sections(struct strip_ctx *c, Elf *out)
{
	GElf_Shdr shdr;
	int r;

	for (size_t i = 1; i < c->shnum; i++) {
		Elf_Scn *oscn;

		if (c->action[i] == STRIP_DELETE)
			continue;
		oscn = elf_newscn(out);
		if (!oscn)
			return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
		if (c->action[i] == STRIP_KEEP) {
			r = strip_write_data(c, i, oscn);
			if (r < 0)
				return r;
		}
		if (!gelf_getshdr(elf_getscn(c->in, i), &shdr))
			return strip_fail(c, -ENOEXEC, "unreadable section header %zu", i);
		strip_out_shdr(c, i, &shdr);
		if (!gelf_update_shdr(oscn, &shdr))
			return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
	}
	return 0;
}

/* The ELF header, and section 0, which carries the counts too large for it (extended
 * numbering: section count in sh_size, e_shstrndx in sh_link, phnum in sh_info). */
static int strip_write_ehdr(struct strip_ctx *c, Elf *out)
{
	size_t shstrndx = strip_renumber(c, c->shstrndx);
	uint64_t shalign = gelf_getclass(c->in) == ELFCLASS64 ? 8 : 4;
	GElf_Shdr zero;
	GElf_Ehdr eh = c->ehdr;

	if (c->out_shnum > 1) {
		if (!gelf_getshdr(elf_getscn(c->in, 0), &zero))
			return strip_fail(c, -ENOEXEC, "unreadable section header 0");
		zero.sh_size = c->out_shnum >= SHN_LORESERVE ? c->out_shnum : 0;
		zero.sh_link = shstrndx >= SHN_LORESERVE ? (GElf_Word) shstrndx : 0;
		if (!gelf_update_shdr(elf_getscn(out, 0), &zero))
			return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
	}
	eh.e_shstrndx = shstrndx >= SHN_LORESERVE ? SHN_XINDEX : (uint16_t) shstrndx;
	eh.e_phoff = c->phnum > 0 ? strip_kept_out(c, c->ehdr.e_phoff,
						   (uint64_t) c->phnum * c->ehdr.e_phentsize) : 0;
	eh.e_shoff = (c->out_end + shalign - 1) & ~(shalign - 1);
	if (!gelf_update_ehdr(out, &eh))
		return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
	return 0;
}

static int strip_write(struct strip_ctx *c, int fd)
{
	_cleanup_(elf_endp) Elf *out = NULL;
	int r;

	out = elf_begin(fd, ELF_C_WRITE, NULL);
	if (!out)
		return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
	if (!gelf_newehdr(out, gelf_getclass(c->in)))
		return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
	r = strip_write_phdrs(c, out);
	if (r < 0)
		return r;
	r = strip_write_sections(c, out);
	if (r < 0)
		return r;
	r = strip_write_ehdr(c, out);
	if (r < 0)
		return r;

	/* Our layout; and headers are copied as found, not re-validated (a size that is not
	 * a multiple of sh_entsize in the input is not ours to refuse). */
	(void) elf_flagelf(out, ELF_C_SET, ELF_F_LAYOUT | ELF_F_PERMISSIVE);
	errno = 0;
	if (elf_update(out, ELF_C_WRITE) < 0) {
		/* A failed write leaves its errno (ENOSPC, EIO, ...); the rest is libelf's. */
		r = errno > 0 ? -errno : -EIO;
		return strip_fail(c, r, "writing the stripped file failed: %s", elf_errmsg(-1));
	}
	return 0;
}

/* "dir/name" → "dir/.name.XXXXXX" in the same directory, so rename() stays atomic. */
static int temp_path_for(const char *out, char **ret)
{
	const char *slash = strrchr(out, '/');
	char *p;
	int n;

	if (slash)
		n = asprintf(&p, "%.*s/.%s.XXXXXX", (int) (slash - out), out, slash + 1);
	else
		n = asprintf(&p, ".%s.XXXXXX", out);
	if (n < 0)
		return -ENOMEM;
	*ret = p;
	return 0;
}

static int fsync_parent_dir(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	_cleanup_close_ int fd = -EBADF;
	char *slash;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (fsync(fd) < 0)
		return negative_errno();
	return 0;
}

/* The whole strip; the reason of a failure stays in c->why for the caller. */
static int strip_run(struct strip_ctx *c, const char *in, const char *out,
		     uint64_t *ret_size_after)
{
	_cleanup_close_ int in_fd = -EBADF, out_fd = -EBADF;
	_cleanup_(unlink_and_freep) char *tmp = NULL;
	struct stat st;
	int r;

	/* O_NONBLOCK: a FIFO given by mistake must not hang us; no effect on regular files. */
	in_fd = open(in, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (in_fd < 0)
		return negative_errno();
	if (fstat(in_fd, &st) < 0)
		return negative_errno();
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return strip_fail(c, -ENOEXEC, "not a regular file");
	c->in_size = (uint64_t) st.st_size;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
	/* The mapping stays valid after the descriptor is closed and after out replaces in. */
	c->in = elf_begin(in_fd, ELF_C_READ_MMAP, NULL);
	if (!c->in)
		/* elf_begin() refuses files whose header tables do not fit in the file. */
		return strip_fail(c, -ENOEXEC, "not a complete ELF file: %s", elf_errmsg(-1));

	r = strip_check_input(c);
	if (r < 0)
		return r;
	r = strip_decide(c);
	if (r < 0)
		return r;
	r = strip_rewrite(c);
	if (r < 0)
		return r;
	r = strip_layout(c);
	if (r < 0)
		return r;

	r = temp_path_for(out, &tmp);
	if (r < 0)
		return r;
	out_fd = mkostemp(tmp, O_CLOEXEC);
	if (out_fd < 0) {
		r = negative_errno();
		free(TAKE_PTR(tmp)); /* nothing was created, nothing to unlink */
		return r;
	}

	r = strip_write(c, out_fd);
	if (r < 0)
		return r;
	/* mkostemp() made it 0600; a cache file is not secret, and a vmlinux is not run. */
	if (fchmod(out_fd, 0644) < 0 || fsync(out_fd) < 0 || fstat(out_fd, &st) < 0)
		return negative_errno();
	if (rename(tmp, out) < 0)
		return negative_errno();
	free(TAKE_PTR(tmp));

	r = fsync_parent_dir(out);
	if (r < 0)
		/* The file is complete and in place; only its durability is in question. */
		log_debug("strip: fsync of the directory of '%s' failed: %s", out, strerror(-r));

	*ret_size_after = (uint64_t) st.st_size;
	return 0;
}

int strip_vmlinux_full(const char *in, const char *out, uint64_t *ret_size_before,
		       uint64_t *ret_size_after, char **ret_why)
{
	_cleanup_(strip_ctx_done) struct strip_ctx c = {};
	uint64_t after = 0;
	int r;

	if (!in || !out)
		return -EINVAL;
	r = elf_dl_load(&c.why);
	if (r >= 0)
		r = strip_run(&c, in, out, &after);
	if (r < 0) {
		log_debug("strip: '%s': %s%s%s", in, strerror(-r), c.why ? ": " : "",
			  strempty(c.why));
		if (ret_why)
			*ret_why = TAKE_PTR(c.why);
		return r;
	}

	log_debug("strip: '%s' -> '%s': %" PRIu64 " -> %" PRIu64 " bytes", in, out, c.in_size,
		  after);
	if (ret_size_before)
		*ret_size_before = c.in_size;
	if (ret_size_after)
		*ret_size_after = after;
	return 0;
}

int strip_vmlinux(const char *in, const char *out, uint64_t *ret_size_before,
		  uint64_t *ret_size_after)
{
	return strip_vmlinux_full(in, out, ret_size_before, ret_size_after, NULL);
}
