/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel side of the capability manifest (caps.h): what a vmlinux's BTF and ELF say.
 * libbpf reads the BTF (struct sched_ext_ops, FUNCs, bpf_kfunc decl tags); libelf reads the
 * two things BTF does not carry: linux_banner's bytes (the release) and the kfunc ID sets
 * that resolve_btfids wrote into .BTF_ids (include/linux/btf_ids.h: struct btf_id_set8).
 * Every offset taken from the file is checked against its section before it is read.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf-dl.h"
#include "caps-internal.h"
#include "elf-dl.h"
#include "log.h"
#include "macro.h"

#define BTF_SET8_SYMBOL_PREFIX "__BTF_ID__set8__"
#define BTF_SET8_KFUNCS (1u << 0) /* include/linux/btf_ids.h */
#define BANNER_PREFIX "Linux version "

/* ------------------------------------------------------------------ BTF */

int caps_btf_ops(const struct btf *btf, struct caps_strv *ret, bool *ret_found,
		 const char *path, char **ret_why)
{
	const struct btf_type *t;
	const struct btf_member *m;
	int id, r;

	id = btf__find_by_name_kind(btf, "sched_ext_ops", BTF_KIND_STRUCT);
	if (id < 0) {
		*ret_found = false;
		return 0;
	}
	t = btf__type_by_id(btf, (__u32) id);
	if (btf_vlen(t) > CAPS_MAX_ITEMS)
		return why_set(ret_why, -EBADMSG, "'%s': struct sched_ext_ops has %u members",
			       path, btf_vlen(t));
	m = btf_members(t);
	for (unsigned i = 0; i < btf_vlen(t); i++) {
		const char *name = btf__name_by_offset(btf, m[i].name_off);

		/* an anonymous union has no name to record */
		if (!name || !caps_name_valid(name)) {
			log_debug("'%s': sched_ext_ops member %u has no usable name", path, i);
			continue;
		}
		r = caps_strv_push(ret, name);
		if (r < 0)
			return r;
	}
	*ret_found = true;
	return 0;
}

static bool is_kfunc_name(const char *name)
{
	return name && strncmp(name, CAPS_KFUNC_PREFIX, strlen(CAPS_KFUNC_PREFIX)) == 0 &&
	       caps_name_valid(name);
}

/* Source 1: FUNCs tagged bpf_kfunc (pahole >= 1.26). The number of such tags. */
static int kfuncs_from_decl_tags(const struct btf *btf, struct caps_strv *out)
{
	__u32 n = btf__type_cnt(btf);
	int tags = 0, r;

	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id), *f;
		const char *name;

		if (!btf_is_decl_tag(t) || btf_decl_tag(t)->component_idx != -1 ||
		    strcmp(strempty(btf__name_by_offset(btf, t->name_off)), "bpf_kfunc") != 0)
			continue;
		f = btf__type_by_id(btf, t->type);
		if (!f || !btf_is_func(f))
			continue;
		tags++;
		name = btf__name_by_offset(btf, f->name_off);
		if (is_kfunc_name(name) && (r = caps_strv_push(out, name)) < 0)
			return r;
	}
	return tags;
}

/* Source 3: every FUNC named scx_bpf_*. */
static int kfuncs_from_names(const struct btf *btf, struct caps_strv *out)
{
	__u32 n = btf__type_cnt(btf);
	int r;

	for (__u32 id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);
		const char *name;

		if (!btf_is_func(t))
			continue;
		name = btf__name_by_offset(btf, t->name_off);
		if (is_kfunc_name(name) && (r = caps_strv_push(out, name)) < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------------ ELF */

struct elf_file {
	int fd;
	Elf *elf;
	size_t shstrndx;
	bool swap; /* the file's byte order is not ours */
};

static void elf_file_close(struct elf_file *ef)
{
	if (ef->elf)
		(void) elf_end(ef->elf);
	ef->elf = NULL;
	ef->fd = safe_close(ef->fd);
}

/* 1 and ef open, 0 when path is no ELF file (raw BTF), or -errno (why names path). */
static int elf_file_open(struct elf_file *ef, const char *path, char **ret_why)
{
	GElf_Ehdr eh;
	int r;

	*ef = (struct elf_file) { .fd = -EBADF };
	r = elf_dl_load(ret_why);
	if (r < 0)
		return r;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return why_set(ret_why, -EIO, "libelf: %s", elf_errmsg(-1));
	ef->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (ef->fd < 0) {
		r = negative_errno();
		return why_set(ret_why, r, "cannot open '%s': %s", path, strerror(-r));
	}
	ef->elf = elf_begin(ef->fd, ELF_C_READ_MMAP, NULL);
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF) {
		elf_file_close(ef);
		return 0;
	}
	if (!gelf_getehdr(ef->elf, &eh) || elf_getshdrstrndx(ef->elf, &ef->shstrndx) < 0) {
		elf_file_close(ef);
		return why_set(ret_why, -EBADMSG, "'%s': ELF that does not parse: %s", path,
			       elf_errmsg(-1));
	}
#if __BYTE_ORDER == __LITTLE_ENDIAN
	ef->swap = eh.e_ident[EI_DATA] != ELFDATA2LSB;
#else
	ef->swap = eh.e_ident[EI_DATA] != ELFDATA2MSB;
#endif
	return 1;
}

static Elf_Scn *find_section(const struct elf_file *ef, const char *name, GElf_Shdr *ret)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, ret))
			continue;
		n = elf_strptr(ef->elf, ef->shstrndx, ret->sh_name);
		if (n && strcmp(n, name) == 0)
			return scn;
	}
	return NULL;
}

/* The bytes of section index ndx (none for SHT_NOBITS), with its header. */
static const uint8_t *section_bytes(const struct elf_file *ef, size_t ndx, GElf_Shdr *shdr,
				    size_t *ret_size)
{
	Elf_Scn *scn = elf_getscn(ef->elf, ndx);
	Elf_Data *d;

	if (!scn || !gelf_getshdr(scn, shdr) || shdr->sh_type == SHT_NOBITS)
		return NULL;
	d = elf_rawdata(scn, NULL);
	if (!d || !d->d_buf)
		return NULL;
	*ret_size = d->d_size;
	return d->d_buf;
}

/*
 * Calls fn for each symbol of .symtab, with its name; fn's nonzero return stops the walk
 * and is returned.
 */
typedef int (*symbol_fn)(const struct elf_file *ef, const GElf_Sym *sym, const char *name,
			 void *userdata);
static int foreach_symbol(const struct elf_file *ef, symbol_fn fn, void *userdata)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = find_section(ef, ".symtab", &shdr);
	Elf_Data *d;
	size_t n;
	int r;

	if (!scn || shdr.sh_type != SHT_SYMTAB || shdr.sh_entsize == 0)
		return 0;
	d = elf_getdata(scn, NULL);
	if (!d)
		return 0;
	n = shdr.sh_size / shdr.sh_entsize;
	for (size_t i = 1; i < n; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(d, (int) i, &sym))
			break;
		name = elf_strptr(ef->elf, shdr.sh_link, sym.st_name);
		if (name && (r = fn(ef, &sym, name, userdata)) != 0)
			return r;
	}
	return 0;
}

/*
 * Where sym's bytes are in its section: a pointer and how many bytes of the section follow
 * (>= need), or NULL. st_value is an address in a linked file and an offset in an object
 * file, whose sh_addr is 0: st_value - sh_addr covers both.
 */
static const uint8_t *symbol_bytes(const struct elf_file *ef, const GElf_Sym *sym, size_t need,
				   size_t *ret_left)
{
	GElf_Shdr shdr;
	const uint8_t *b;
	size_t size;
	uint64_t off;

	if (sym->st_shndx == SHN_UNDEF || sym->st_shndx >= SHN_LORESERVE)
		return NULL;
	b = section_bytes(ef, sym->st_shndx, &shdr, &size);
	if (!b || sym->st_value < shdr.sh_addr)
		return NULL;
	off = sym->st_value - shdr.sh_addr;
	if (off > size || size - off < need)
		return NULL;
	*ret_left = size - (size_t) off;
	return b + off;
}

static int banner_symbol(const struct elf_file *ef, const GElf_Sym *sym, const char *name,
			 void *userdata)
{
	char **ret = userdata;
	const char *b, *end, *sp;
	size_t left;

	if (strcmp(name, "linux_banner") != 0 || GELF_ST_TYPE(sym->st_info) != STT_OBJECT)
		return 0;
	b = (const char *) symbol_bytes(ef, sym, strlen(BANNER_PREFIX), &left);
	if (!b)
		return 0;
	if (sym->st_size > 0 && sym->st_size < left)
		left = (size_t) sym->st_size;
	end = memchr(b, '\0', left);
	if (!end || strncmp(b, BANNER_PREFIX, strlen(BANNER_PREFIX)) != 0)
		return 0;
	b += strlen(BANNER_PREFIX);
	sp = strchr(b, ' ');
	*ret = strndup(b, (size_t) ((sp ? sp : end) - b));
	return *ret ? 1 : -ENOMEM;
}

int caps_elf_release(const char *path, char **ret, char **ret_why)
{
	struct elf_file ef;
	char *release = NULL;
	int r;

	r = elf_file_open(&ef, path, ret_why);
	if (r <= 0) {
		*ret = NULL;
		return r;
	}
	r = foreach_symbol(&ef, banner_symbol, &release);
	elf_file_close(&ef);
	if (r < 0)
		return r;
	if (release && !caps_release_valid(release)) {
		log_debug("'%s': linux_banner names no usable release", path);
		free(release);
		release = NULL;
	}
	*ret = release;
	return 0;
}

/* ------------------------------------------------------------------ .BTF_ids */

struct set8_walk {
	const struct btf *btf;
	struct caps_strv *out;
	size_t ids_shndx;
	unsigned sets;   /* kfunc sets read */
	bool unresolved; /* an ID that is no FUNC of this BTF */
};

static uint32_t u32_at(const struct elf_file *ef, const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return ef->swap ? __builtin_bswap32(v) : v;
}

/* One struct btf_id_set8 {u32 cnt; u32 flags; {u32 id; u32 flags;} pairs[cnt];}. */
static int set8_symbol(const struct elf_file *ef, const GElf_Sym *sym, const char *name,
		       void *userdata)
{
	struct set8_walk *w = userdata;
	const uint8_t *p;
	size_t left;
	uint32_t cnt, n_types = btf__type_cnt(w->btf);
	int r;

	if (strncmp(name, BTF_SET8_SYMBOL_PREFIX, strlen(BTF_SET8_SYMBOL_PREFIX)) != 0 ||
	    sym->st_shndx != w->ids_shndx)
		return 0;
	p = symbol_bytes(ef, sym, 8, &left);
	if (!p || !(u32_at(ef, p + 4) & BTF_SET8_KFUNCS))
		return 0;
	cnt = u32_at(ef, p);
	if (cnt > (left - 8) / 8) {
		log_debug("kfunc set '%s' runs past .BTF_ids (%u entries)", name, cnt);
		w->unresolved = true;
		return 1;
	}
	w->sets++;
	for (uint32_t i = 0; i < cnt; i++) {
		uint32_t id = u32_at(ef, p + 8 + 8 * (size_t) i);
		const struct btf_type *t;
		const char *fname;

		if (id == 0) /* resolve_btfids found no such function in this build */
			continue;
		t = id < n_types ? btf__type_by_id(w->btf, id) : NULL;
		if (!t || !btf_is_func(t)) {
			log_debug("kfunc set '%s': ID %u is no FUNC of the BTF", name, id);
			w->unresolved = true;
			return 1;
		}
		fname = btf__name_by_offset(w->btf, t->name_off);
		if (is_kfunc_name(fname) && (r = caps_strv_push(w->out, fname)) < 0)
			return r;
	}
	return 0;
}

/*
 * Source 2: the kfunc sets of ids_path's .BTF_ids. 1 when they were read and resolve
 * against btf, 0 when they are not usable (the next source is used), or -errno.
 */
static int kfuncs_from_btf_ids(const struct btf *btf, const char *ids_path,
			       struct caps_strv *out, char **ret_why)
{
	struct set8_walk w = { .btf = btf, .out = out };
	struct elf_file ef;
	GElf_Shdr shdr;
	Elf_Scn *scn;
	int r;

	r = elf_file_open(&ef, ids_path, ret_why);
	if (r < 0)
		return r;
	if (r == 0)
		return why_set(ret_why, -EBADMSG, "'%s' is no ELF file", ids_path);
	scn = find_section(&ef, ".BTF_ids", &shdr);
	if (!scn) {
		log_debug("'%s' has no .BTF_ids section", ids_path);
		elf_file_close(&ef);
		return 0;
	}
	w.ids_shndx = elf_ndxscn(scn);
	r = foreach_symbol(&ef, set8_symbol, &w);
	elf_file_close(&ef);
	if (r < 0)
		return r;
	if (w.unresolved || w.sets == 0) {
		log_debug("'%s': %s", ids_path,
			  w.sets == 0 ? "no kfunc set in .BTF_ids" : "kfunc sets not of this BTF");
		caps_strv_done(out);
		return 0;
	}
	return 1;
}

int caps_btf_kfuncs(const struct btf *btf, const char *ids_path, struct caps_strv *ret,
		    enum kts_caps_kfuncs_from *ret_from, char **ret_why)
{
	int r;

	r = kfuncs_from_decl_tags(btf, ret);
	if (r < 0)
		return r;
	if (r > 0) {
		*ret_from = KTS_CAPS_KFUNCS_DECL_TAG;
		goto done;
	}
	if (ids_path) {
		r = kfuncs_from_btf_ids(btf, ids_path, ret, ret_why);
		if (r < 0)
			return r;
		if (r > 0) {
			*ret_from = KTS_CAPS_KFUNCS_BTF_IDS;
			goto done;
		}
	}
	r = kfuncs_from_names(btf, ret);
	if (r < 0)
		return r;
	*ret_from = KTS_CAPS_KFUNCS_FUNC_NAME;
done:
	caps_strv_sort_unique(ret);
	if (ret->n > CAPS_MAX_ITEMS)
		return why_set(ret_why, -EBADMSG, "more than %d scx kfuncs", CAPS_MAX_ITEMS);
	return 0;
}
