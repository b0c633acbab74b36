/* A static, freestanding /init for the UKI end-to-end boots: no libc, raw Linux syscalls.
 *
 * It mounts devtmpfs on /dev and proc on /proc, writes
 *     PELN-INIT: <arch> booted
 *     PELN-INIT: cmdline: <contents of /proc/cmdline>
 * to /dev/console, syncs and powers the machine off (QEMU with -no-reboot then exits).
 *
 * Built by scripts/mkinitramfs.sh:
 *   clang-19 --target=<arch>-linux-gnu -static -nostdlib -ffreestanding -fno-stack-protector -O2 -c
 *   ld.lld-19 -static -e _start
 */

typedef unsigned long u64;
typedef long i64;

#define AT_FDCWD (-100)
#define O_WRONLY 1
#define O_RDONLY 0
#define O_NOCTTY 0400
#define O_CLOEXEC 02000000
#define LINUX_REBOOT_MAGIC1 0xfee1deadUL
#define LINUX_REBOOT_MAGIC2 672274793UL
#define LINUX_REBOOT_CMD_POWER_OFF 0x4321fedcUL

#if defined(__x86_64__)
#define ARCH "amd64"
enum { SYS_read = 0, SYS_write = 1, SYS_close = 3, SYS_sync = 162, SYS_mount = 165, SYS_reboot = 169,
       SYS_exit = 60, SYS_openat = 257, SYS_mkdirat = 258 };

static i64 syscall6(i64 n, u64 a, u64 b, u64 c, u64 d, u64 e, u64 f) {
    register u64 r10 __asm__("r10") = d;
    register u64 r8 __asm__("r8") = e;
    register u64 r9 __asm__("r9") = f;
    i64 ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

/* The kernel enters with %rsp 16-byte aligned; a C function expects %rsp+8 aligned. */
__asm__(".text\n.globl _start\n.type _start,@function\n_start:\n"
        "  xor %ebp, %ebp\n  mov %rsp, %rdi\n  and $-16, %rsp\n  call init_main\n  hlt\n");

#else
/* The generic syscall table (arm64, riscv64, loongarch64). */
enum { SYS_mkdirat = 34, SYS_mount = 40, SYS_openat = 56, SYS_close = 57, SYS_read = 63, SYS_write = 64,
       SYS_sync = 81, SYS_exit = 93, SYS_reboot = 142 };

/* The number in one register, six arguments in six more, the result back in the first argument's:
 * the three differ only in register names, the trap instruction and what it clobbers. */
#define GENERIC_SYSCALL6(insn, rn, r0, r1, r2, r3, r4, r5, ...)                                              \
    static i64 syscall6(i64 n, u64 a, u64 b, u64 c, u64 d, u64 e, u64 f) {                                  \
        register u64 nr __asm__(rn) = n;                                                                    \
        register u64 x0 __asm__(r0) = a;                                                                    \
        register u64 x1 __asm__(r1) = b;                                                                    \
        register u64 x2 __asm__(r2) = c;                                                                    \
        register u64 x3 __asm__(r3) = d;                                                                    \
        register u64 x4 __asm__(r4) = e;                                                                    \
        register u64 x5 __asm__(r5) = f;                                                                    \
        __asm__ volatile(insn                                                                               \
                         : "+r"(x0)                                                                         \
                         : "r"(nr), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)                             \
                         : __VA_ARGS__);                                                                    \
        return x0;                                                                                          \
    }

#if defined(__aarch64__)
#define ARCH "arm64"
GENERIC_SYSCALL6("svc #0", "x8", "x0", "x1", "x2", "x3", "x4", "x5", "memory")
__asm__(".text\n.globl _start\n.type _start,%function\n_start:\n"
        "  mov x29, #0\n  mov x30, #0\n  mov x0, sp\n  bl init_main\n1: b 1b\n");

#elif defined(__riscv) && __riscv_xlen == 64
#define ARCH "riscv64"
GENERIC_SYSCALL6("ecall", "a7", "a0", "a1", "a2", "a3", "a4", "a5", "memory")
__asm__(".text\n.globl _start\n.type _start,@function\n_start:\n"
        "  li ra, 0\n  li fp, 0\n  mv a0, sp\n  call init_main\n1: j 1b\n");

#elif defined(__loongarch64)
#define ARCH "loongarch64"
GENERIC_SYSCALL6("syscall 0", "$a7", "$a0", "$a1", "$a2", "$a3", "$a4", "$a5", "$t0", "$t1", "$t2", "$t3", "$t4",
                 "$t5", "$t6", "$t7", "$t8", "memory")
__asm__(".text\n.globl _start\n.type _start,@function\n_start:\n"
        "  move $ra, $zero\n  move $fp, $zero\n  move $a0, $sp\n  bl init_main\n1: b 1b\n");

#else
#error "unsupported architecture"
#endif
#endif

#define sys(n, a, b, c, d, e) syscall6((n), (u64)(a), (u64)(b), (u64)(c), (u64)(d), (u64)(e), 0)

static u64 len(const char *s) {
    u64 n = 0;
    while (s[n])
        n++;
    return n;
}

static int out = -1;

static void put(const char *s, u64 n) {
    while (n > 0) {
        i64 w = sys(SYS_write, out, s, n, 0, 0);
        if (w <= 0)
            return;
        s += w;
        n -= (u64)w;
    }
}

static void puts_(const char *s) { put(s, len(s)); }

/* "<what> failed: -<errno>\n" */
static void report(const char *what, i64 err) {
    char num[24];
    int i = sizeof num;
    u64 v = err < 0 ? (u64)-err : (u64)err;
    num[--i] = 0;
    do {
        num[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 1);
    num[--i] = '-';
    puts_("PELN-INIT: ");
    puts_(what);
    puts_(" failed: ");
    puts_(num + i);
    puts_("\n");
}

static char cmdline[4096];

void init_main(void *sp) {
    (void)sp;
    i64 r_dev = sys(SYS_mkdirat, AT_FDCWD, "/dev", 0755, 0, 0);
    i64 r_proc = sys(SYS_mkdirat, AT_FDCWD, "/proc", 0555, 0, 0);
    i64 m_dev = sys(SYS_mount, "devtmpfs", "/dev", "devtmpfs", 0, 0);
    i64 m_proc = sys(SYS_mount, "proc", "/proc", "proc", 0, 0);

    i64 fd = sys(SYS_openat, AT_FDCWD, "/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC, 0, 0);
    /* Without a console node the kernel may still have given us fd 1 (it opens /dev/console itself
     * when the initramfs has one). */
    out = fd >= 0 ? (int)fd : 1;

    puts_("PELN-INIT: " ARCH " booted\n");
    /* mkdir fails with -EEXIST (-17) when the initramfs already has the directory: not an error. */
    if (r_dev < 0 && r_dev != -17)
        report("mkdir /dev", r_dev);
    if (r_proc < 0 && r_proc != -17)
        report("mkdir /proc", r_proc);
    if (m_dev < 0)
        report("mount devtmpfs /dev", m_dev);
    if (m_proc < 0)
        report("mount proc /proc", m_proc);
    if (fd < 0)
        report("open /dev/console", fd);

    i64 cfd = sys(SYS_openat, AT_FDCWD, "/proc/cmdline", O_RDONLY | O_CLOEXEC, 0, 0);
    if (cfd < 0) {
        report("open /proc/cmdline", cfd);
    } else {
        u64 n = 0;
        for (;;) {
            i64 r = sys(SYS_read, cfd, cmdline + n, sizeof cmdline - 1 - n, 0, 0);
            if (r <= 0)
                break;
            n += (u64)r;
            if (n == sizeof cmdline - 1)
                break;
        }
        sys(SYS_close, cfd, 0, 0, 0, 0);
        while (n > 0 && (cmdline[n - 1] == '\n' || cmdline[n - 1] == ' '))
            n--;
        puts_("PELN-INIT: cmdline: ");
        put(cmdline, n);
        puts_("\n");
    }

    sys(SYS_sync, 0, 0, 0, 0, 0);
    i64 r = sys(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_POWER_OFF, 0, 0);
    report("reboot(POWER_OFF)", r);
    for (;;)
        sys(SYS_exit, 1, 0, 0, 0, 0); /* the kernel panics: the boot's timeout ends QEMU */
}
