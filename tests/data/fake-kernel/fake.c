/* The fake kernel: an ELF with symbols, .rodata and debug info for the strip step. */
#include <stdio.h>

const char fake_banner[] = "Linux version 0.0.0-fake (ktscope tests)";
int fake_counter = 42;

int main(void)
{
	puts(fake_banner);
	return fake_counter == 42 ? 0 : 1;
}
