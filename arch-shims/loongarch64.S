/* peln-stub shim, loongarch64 (ELF: clang-19 --target=loongarch64-unknown-elf -c loongarch64.S).
 *
 * efi_main(ImageHandle, SystemTable): the image entry point (LP64D: a0, a1; sp 16-byte aligned).
 * It calls the Rust stub_main(ImageHandle, SystemTable, entry_sp) with entry_sp = the firmware's
 * sp, on a realigned stack, so that stub_main can report a misaligned firmware stack and go on:
 * edk2 2025.02 does enter applications here with sp = 8 (mod 16).
 *
 * Nothing else is needed: compiler_builtins (built with -Zbuild-std-features=compiler-builtins-mem)
 * provides memcpy/memset/memcmp for loongarch64-unknown-none, which has no stack probes. No
 * instruction-cache maintenance (ibar) either: the stub never writes code (LoadImage copies the
 * kernel and the firmware syncs the caches for it).
 */
	.section .text.efi_main,"ax",@progbits
	.globl	efi_main
	.type	efi_main, @function
	.p2align 2
efi_main:
	move	$t0, $sp		/* entry_sp */
	bstrins.d $sp, $zero, 3, 0	/* sp &= -16 */
	addi.d	$sp, $sp, -16
	st.d	$t0, $sp, 0		/* keep entry_sp (to restore sp) and the return address */
	st.d	$ra, $sp, 8
	move	$a2, $t0		/* a0, a1: still the firmware's arguments */
	bl	stub_main
	ld.d	$t0, $sp, 0
	ld.d	$ra, $sp, 8
	move	$sp, $t0
	jr	$ra
	.size	efi_main, . - efi_main
