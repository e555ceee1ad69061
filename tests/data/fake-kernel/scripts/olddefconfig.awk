# First file: symbols to drop (one CONFIG_X per line). Second: the .config.
# Output: each symbol once, at its first position, with its last value.
FNR == NR { if ($1 != "") drop[$1] = 1; next }
{
	sym = ""
	if ($0 ~ /^CONFIG_[A-Za-z0-9_]+=/) { sym = $0; sub(/=.*/, "", sym) }
	else if ($0 ~ /^# CONFIG_[A-Za-z0-9_]+ is not set/) { sym = $2 }
	else next
	if (sym in drop) next
	if (!(sym in val)) order[++n] = sym
	val[sym] = $0
}
END { for (i = 1; i <= n; i++) print val[order[i]] }
