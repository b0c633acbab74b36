/* peln-stub shim, riscv64 (ELF: clang-19 --target=riscv64-unknown-elf -march=rv64gc -mabi=lp64d
 * -c riscv64.S).
 *
 * efi_main(ImageHandle, SystemTable): the image entry point (LP64D: a0, a1; sp 16-byte aligned).
 * It calls the Rust stub_main(ImageHandle, SystemTable, entry_sp) with entry_sp = the firmware's
 * sp, on a realigned stack, so that stub_main can report a misaligned firmware stack.
 *
 * Nothing else is needed: Rust's compiler_builtins provides memcpy/memset/memcmp for
 * riscv64gc-unknown-none-elf, which has no stack probes. No instruction-cache maintenance
 * (fence.i) either: the stub never writes code (LoadImage copies the kernel and the firmware
 * syncs the caches for it).
 */
	.section .text.efi_main,"ax",@progbits
	.globl	efi_main
	.type	efi_main, @function
	.p2align 2
efi_main:
	mv	t0, sp			/* entry_sp */
	andi	sp, t0, -16
	addi	sp, sp, -16
	sd	t0, 0(sp)		/* keep entry_sp (to restore sp) and the return address */
	sd	ra, 8(sp)
	mv	a2, t0			/* a0, a1: still the firmware's arguments */
	call	stub_main
	ld	t0, 0(sp)
	ld	ra, 8(sp)
	mv	sp, t0
	ret
	.size	efi_main, . - efi_main
