/* peln-stub shim, amd64 (COFF: clang-19 --target=x86_64-windows-msvc -c amd64.S).
 *
 * efi_main(ImageHandle, SystemTable): the image entry point. The firmware calls it with the
 * Microsoft x64 ABI (rcx, rdx), with rsp 16-byte aligned at the call, i.e. rsp+8 at entry. It calls
 * the Rust stub_main(ImageHandle, SystemTable, entry_sp) (extern "efiapi" = ms_abi: rcx, rdx, r8)
 * with entry_sp = the caller's rsp, on a realigned stack, so that stub_main can report a
 * misaligned firmware stack instead of faulting on it.
 *
 * Nothing else is needed: Rust's compiler_builtins provides memcpy/memset/memcmp for
 * x86_64-unknown-uefi, and no stub frame reaches a page, so no __chkstk call is emitted.
 * No instruction-cache maintenance either: the stub never writes code (LoadImage copies the
 * kernel and the firmware makes it executable).
 */
	.text
	.globl	efi_main
	.def	efi_main; .scl 2; .type 32; .endef
	.p2align 4
efi_main:
	pushq	%rbp
	movq	%rsp, %rbp		/* rbp: to restore rsp */
	leaq	16(%rsp), %r8		/* entry_sp: above our rbp and the return address */
	andq	$-16, %rsp
	subq	$32, %rsp		/* shadow space for stub_main's register arguments */
	callq	stub_main		/* rcx, rdx: still the firmware's arguments */
	movq	%rbp, %rsp
	popq	%rbp
	retq
