/* peln-stub shim, arm64 (COFF: clang-19 --target=aarch64-windows-msvc -c arm64.S).
 *
 * efi_main(ImageHandle, SystemTable): the image entry point (AAPCS64: x0, x1; sp must be 16-byte
 * aligned). It calls the Rust stub_main(ImageHandle, SystemTable, entry_sp) with entry_sp = the
 * firmware's sp, on a realigned stack, so that stub_main can report a misaligned firmware stack
 * instead of faulting on it (sp-relative accesses trap when SCTLR.SA is set).
 *
 * Nothing else is needed: Rust's compiler_builtins provides memcpy/memset/memcmp for
 * aarch64-unknown-uefi, and no stub frame reaches a page, so no __chkstk call is emitted.
 * No instruction-cache maintenance either: the stub never writes code (LoadImage copies the
 * kernel and the firmware cleans/invalidates the caches for it).
 */
	.text
	.globl	efi_main
	.def	efi_main; .scl 2; .type 32; .endef
	.p2align 2
efi_main:
	mov	x9, sp			/* entry_sp */
	and	sp, x9, #-16
	stp	x9, x30, [sp, #-16]!	/* keep entry_sp (to restore sp) and the return address */
	mov	x2, x9			/* x0, x1: still the firmware's arguments */
	bl	stub_main
	ldp	x9, x30, [sp]
	mov	sp, x9
	ret
