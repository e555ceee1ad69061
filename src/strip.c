/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vmlinux keep-list strip with libelf; the contract is in strip.h.
 *
 * Shape of the work: read the input through a read-only mapping (ELF_C_READ_MMAP), decide
 * per section what survives, compute the output layout ourselves (ELF_F_LAYOUT) so that
 * program headers can be kept consistent, then let libelf write a new file whose kept
 * section data point straight into the input mapping: no section is copied in memory.
 * Section contents are handled as raw bytes (elf_rawdata, ELF_T_BYTE), so they are
 * byte-identical whatever the file's endianness; headers go through gelf, which converts.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Section names whose contents are kept (DESIGN §5), besides what strip_decide() adds. */
static const char *const keep_names[] = {
	".symtab", ".strtab", ".shstrtab", ".BTF", ".BTF.ext", ".rodata",
};

enum strip_action {
	STRIP_UNTOUCHED, /* no file bytes in the input (NULL, NOBITS, empty): header as is */
	STRIP_KEEP,      /* contents copied byte for byte */
	STRIP_NOBITS,    /* allocated: SHT_NOBITS, address and size kept */
	STRIP_EMPTY,     /* not allocated: SHT_NOBITS, size 0, no links */
};

/* A byte range of the input file that has contents: the ELF header, the program header
 * table, or a section's data. Kept items get an output offset; dropped ones vanish. */
struct strip_item {
	uint64_t off, size;
	uint64_t out; /* output offset; kept items only */
	bool kept;
};

struct strip_ctx {
	Elf *in;
	uint64_t in_size;
	GElf_Ehdr ehdr;
	size_t shnum, phnum, shstrndx;
	enum strip_action *action; /* per section index */
	struct strip_item *items;  /* sorted by input offset */
	size_t n_items;
	struct strip_item *kept;   /* the kept items, same order */
	size_t n_kept;
	uint64_t out_end; /* end of the last kept item in the output */
	char *why;
};

static void strip_ctx_done(struct strip_ctx *c)
{
	free(c->action);
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

static bool is_keep_name(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(keep_names); i++)
		if (streq(name, keep_names[i]))
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

/* Fills c->action: the keep-list of strip.h, applied by name, type and link. */
static int strip_decide(struct strip_ctx *c)
{
	GElf_Shdr shdr;
	bool *linked_by_symtab;

	c->action = calloc(c->shnum, sizeof(*c->action));
	linked_by_symtab = calloc(c->shnum, sizeof(*linked_by_symtab));
	if (!c->action || !linked_by_symtab) {
		free(linked_by_symtab);
		return -ENOMEM;
	}

	/* The symbol table's string table and extended index table are kept whatever their
	 * names: without them the kept symbols cannot be read. */
	for (size_t i = 1; i < c->shnum; i++) {
		if (!gelf_getshdr(elf_getscn(c->in, i), &shdr))
			continue;
		if (shdr.sh_type == SHT_SYMTAB && shdr.sh_link < c->shnum)
			linked_by_symtab[shdr.sh_link] = true;
	}
	for (size_t i = 1; i < c->shnum; i++) {
		if (!gelf_getshdr(elf_getscn(c->in, i), &shdr))
			continue;
		if (shdr.sh_type == SHT_SYMTAB_SHNDX)
			linked_by_symtab[i] = true;
	}

	for (size_t i = 1; i < c->shnum; i++) {
		const char *name;

		if (!gelf_getshdr(elf_getscn(c->in, i), &shdr)) {
			free(linked_by_symtab);
			return strip_fail(c, -ENOEXEC, "unreadable section header %zu", i);
		}
		name = section_name(c, shdr.sh_name);

		if (shdr.sh_type == SHT_NOBITS || (shdr.sh_type == SHT_NULL && shdr.sh_size == 0))
			c->action[i] = STRIP_UNTOUCHED;
		else if (is_keep_name(name) || i == c->shstrndx || shdr.sh_type == SHT_SYMTAB ||
			 linked_by_symtab[i] ||
			 (shdr.sh_type == SHT_NOTE && (shdr.sh_flags & SHF_ALLOC)) ||
			 in_interp_segment(c, &shdr))
			c->action[i] = shdr.sh_type == SHT_NULL ? STRIP_EMPTY : STRIP_KEEP;
		else if (shdr.sh_flags & SHF_ALLOC)
			c->action[i] = STRIP_NOBITS;
		else
			c->action[i] = STRIP_EMPTY;
	}
	free(linked_by_symtab);
	return 0;
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
			.size = shdr.sh_size,
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

static int strip_write(struct strip_ctx *c, int fd)
{
	_cleanup_(elf_endp) Elf *out = NULL;
	GElf_Ehdr eh;
	GElf_Shdr shdr;
	uint64_t shoff, shalign;

	out = elf_begin(fd, ELF_C_WRITE, NULL);
	if (!out)
		return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
	if (!gelf_newehdr(out, gelf_getclass(c->in)))
		return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));

	/* Program headers right after the ELF header, where strip_layout() put them. */
	if (c->phnum > 0) {
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
	}

	for (size_t i = 1; i < c->shnum; i++) {
		Elf_Scn *iscn = elf_getscn(c->in, i), *oscn = elf_newscn(out);

		if (!oscn)
			return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
		if (!gelf_getshdr(iscn, &shdr))
			return strip_fail(c, -ENOEXEC, "unreadable section header %zu", i);
		/* 0 and 1 both mean "no constraint"; libelf's layout check wants at least 1. */
		if (shdr.sh_addralign == 0)
			shdr.sh_addralign = 1;

		switch (c->action[i]) {
		case STRIP_KEEP: {
			Elf_Data *src = elf_rawdata(iscn, NULL), *dst;

			if (!src || src->d_size != shdr.sh_size)
				return strip_fail(c, -ENOEXEC, "unreadable contents of section %zu "
						  "('%s'): %s", i, section_name(c, shdr.sh_name),
						  elf_errmsg(-1));
			dst = elf_newdata(oscn);
			if (!dst)
				return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
			/* Raw bytes, pointing into the input mapping: written as found. */
			dst->d_buf = src->d_buf;
			dst->d_size = src->d_size;
			dst->d_type = ELF_T_BYTE;
			dst->d_off = 0;
			dst->d_align = 1;
			dst->d_version = EV_CURRENT;
			shdr.sh_offset = strip_kept_out(c, shdr.sh_offset, shdr.sh_size);
			break;
		}
		case STRIP_NOBITS:
			shdr.sh_type = SHT_NOBITS;
			shdr.sh_flags &= ~(GElf_Xword) SHF_COMPRESSED;
			shdr.sh_offset = strip_map(c, shdr.sh_offset);
			break;
		case STRIP_EMPTY:
			if (shdr.sh_type != SHT_NULL)
				shdr.sh_type = SHT_NOBITS;
			/* No bytes: nothing is compressed, and nothing is linked any more. */
			shdr.sh_flags &= ~(GElf_Xword) (SHF_COMPRESSED | SHF_INFO_LINK |
							SHF_LINK_ORDER);
			shdr.sh_size = 0;
			shdr.sh_link = 0;
			shdr.sh_info = 0;
			shdr.sh_offset = strip_map(c, shdr.sh_offset);
			break;
		case STRIP_UNTOUCHED:
			shdr.sh_offset = strip_map(c, shdr.sh_offset);
			break;
		}
		if (!gelf_update_shdr(oscn, &shdr))
			return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
	}

	/* Section 0 carries the extended counts (shnum, shstrndx, phnum) of huge files. */
	if (c->shnum > 1) {
		if (!gelf_getshdr(elf_getscn(c->in, 0), &shdr) ||
		    !gelf_update_shdr(elf_getscn(out, 0), &shdr))
			return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));
	}

	shalign = gelf_getclass(c->in) == ELFCLASS64 ? 8 : 4;
	shoff = (c->out_end + shalign - 1) & ~(shalign - 1);
	eh = c->ehdr;
	eh.e_phoff = c->phnum > 0 ? strip_kept_out(c, c->ehdr.e_phoff,
						   (uint64_t) c->phnum * c->ehdr.e_phentsize) : 0;
	eh.e_shoff = shoff;
	if (!gelf_update_ehdr(out, &eh))
		return strip_fail(c, -EIO, "libelf: %s", elf_errmsg(-1));

	/* Our layout; and headers are copied as found, not re-validated (a size that is not
	 * a multiple of sh_entsize in the input is not ours to refuse). */
	(void) elf_flagelf(out, ELF_C_SET, ELF_F_LAYOUT | ELF_F_PERMISSIVE);
	errno = 0;
	if (elf_update(out, ELF_C_WRITE) < 0) {
		/* A failed write leaves its errno (ENOSPC, EIO, ...); the rest is libelf's. */
		int r = errno > 0 ? -errno : -EIO;
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
