#include "recorder/cfi_unwind.hpp"

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__linux__)
#include <pthread.h>
#define CTXSCOPE_CFI_WALKER 1
#endif

namespace ctxscope::trace::detail {

#if defined(CTXSCOPE_CFI_WALKER)

// libgcc's FDE lookup (exported by libgcc_s.so.1 since GCC 3.0, version
// GCC_3.0; declared in its private unwind-dw2-fde.h): the frame description
// entry covering `pc`, and in bases->func the start of its function.  It finds
// every loaded object's .eh_frame_hdr (glibc's _dl_find_object) and frames
// registered at run time with __register_frame.
struct dwarf_eh_bases {
  void* tbase;
  void* dbase;
  void* func;
};
extern "C" const void* _Unwind_Find_FDE(void* pc, dwarf_eh_bases* bases);

namespace {

// ---------------------------------------------------------------------------
// A frame's rule, packed into 8 bytes.

enum Kind : std::uint8_t {
  kNone = 0,    // not in the table
  kWalk = 1,    // CFA = (rbp if cfa_rbp else rsp) + cfa_off; return address at CFA - 8
  kEnd = 2,     // the return address is undefined: the thread's outermost frame
  kCannot = 3,  // a rule the walker does not follow
};

struct Rule {
  std::int32_t cfa_off = 0;
  std::int16_t rbp_off = 0;  // 0: rbp unchanged; else the caller's rbp is at CFA + rbp_off
  std::uint8_t kind = kNone;
  std::uint8_t cfa_rbp = 0;
};
static_assert(sizeof(Rule) == 8);

std::uint64_t pack(Rule r) { return std::bit_cast<std::uint64_t>(r); }
Rule unpack(std::uint64_t v) { return std::bit_cast<Rule>(v); }

// ---------------------------------------------------------------------------
// Reading .eh_frame.

constexpr int kRbp = 6, kRsp = 7, kRa = 16;  // DWARF register numbers, x86-64

struct Reader {
  const std::uint8_t* p;
  const std::uint8_t* end;
  bool ok = true;

  bool more() const { return ok && p < end; }
  bool need(std::size_t n) {
    if (!ok || static_cast<std::size_t>(end - p) < n) ok = false;
    return ok;
  }
  template <class T>
  T fixed() {
    T v{};
    if (!need(sizeof v)) return v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  std::uint8_t u8() { return fixed<std::uint8_t>(); }
  std::uint64_t uleb() {
    std::uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      if (!need(1) || shift > 63) {
        ok = false;
        return 0;
      }
      const std::uint8_t b = *p++;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  }
  std::int64_t sleb() {
    std::int64_t v = 0;
    int shift = 0;
    std::uint8_t b;
    do {
      if (!need(1) || shift > 63) {
        ok = false;
        return 0;
      }
      b = *p++;
      v |= static_cast<std::int64_t>(b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40)) v |= -(static_cast<std::int64_t>(1) << shift);
    return v;
  }
  void skip(std::uint64_t n) {
    if (need(n)) p += n;
  }
  // A DW_EH_PE-encoded pointer.  Absolute and pc-relative values are decoded;
  // the other bases (text, data, function relative) only skipped, with
  // `decoded` false.
  std::uint64_t encoded(std::uint8_t enc, bool* decoded) {
    *decoded = true;
    if (enc == 0xff) return 0;  // DW_EH_PE_omit
    const auto at = reinterpret_cast<std::uint64_t>(p);
    std::uint64_t v = 0;
    switch (enc & 0x0f) {
      case 0x00: v = fixed<std::uint64_t>(); break;  // absptr
      case 0x01: v = uleb(); break;
      case 0x02: v = fixed<std::uint16_t>(); break;
      case 0x03: v = fixed<std::uint32_t>(); break;
      case 0x04: v = fixed<std::uint64_t>(); break;
      case 0x09: v = static_cast<std::uint64_t>(sleb()); break;
      case 0x0a: v = static_cast<std::uint64_t>(static_cast<std::int64_t>(fixed<std::int16_t>())); break;
      case 0x0b: v = static_cast<std::uint64_t>(static_cast<std::int64_t>(fixed<std::int32_t>())); break;
      case 0x0c: v = fixed<std::uint64_t>(); break;
      default: ok = false; return 0;
    }
    switch (enc & 0x70) {
      case 0x00: break;
      case 0x10: v += at; break;  // pcrel
      default: *decoded = false; break;
    }
    if (enc & 0x80) *decoded = false;  // indirect: never needed here
    return v;
  }
};

// The state of the registers the walker follows, while the call-frame
// instructions run.
enum RegRule : std::uint8_t { kSame, kUndefined, kOffset, kOther };
struct Row {
  int cfa_reg = kRsp;
  std::int64_t cfa_off = 8;
  bool cfa_expr = false;
  RegRule rbp = kSame;
  std::int64_t rbp_off = 0;
  RegRule ra = kOther;
  std::int64_t ra_off = 0;
};

struct Cie {
  std::uint64_t caf = 1;  // code alignment factor
  std::int64_t daf = -8;  // data alignment factor
  std::uint8_t fde_enc = 0;
  bool has_z = false;
  bool signal = false;
  const std::uint8_t* insns = nullptr;
  const std::uint8_t* end = nullptr;
};

bool parse_cie(const std::uint8_t* at, Cie* c) {
  std::uint32_t len32;
  std::memcpy(&len32, at, 4);
  if (len32 == 0 || len32 == 0xffffffffu) return false;  // a terminator, or 64-bit DWARF (never in .eh_frame)
  Reader r{at + 4, at + 4 + len32};
  if (r.fixed<std::uint32_t>() != 0) return false;  // a CIE's id is 0 in .eh_frame
  const std::uint8_t version = r.u8();
  if (version != 1 && version != 3 && version != 4) return false;
  const char* aug = reinterpret_cast<const char*>(r.p);
  const std::size_t aug_len = ::strnlen(aug, static_cast<std::size_t>(r.end - r.p));
  r.skip(aug_len + 1);
  if (version == 4) r.skip(2);  // address size, segment selector size
  c->caf = r.uleb();
  c->daf = r.sleb();
  const std::uint64_t ra_reg = version == 1 ? r.u8() : r.uleb();
  if (!r.ok || ra_reg != kRa) return false;
  if (aug[0] == 'z') {
    c->has_z = true;
    const std::uint64_t n = r.uleb();
    const std::uint8_t* data_end = r.p + n;
    for (std::size_t i = 1; i < aug_len && r.ok; ++i) {
      switch (aug[i]) {
        case 'R': c->fde_enc = r.u8(); break;
        case 'L': r.u8(); break;  // the LSDA's encoding
        case 'P': {
          bool decoded;
          r.encoded(r.u8(), &decoded);  // the personality routine: skipped
          break;
        }
        case 'S': c->signal = true; break;
        case 'B': break;  // AArch64's B-key: no data
        default: i = aug_len; break;  // unknown: 'z' says how long the data is
      }
    }
    if (!r.ok || data_end > r.end) return false;
    r.p = data_end;
  } else if (aug[0] != '\0') {
    return false;  // a pre-'z' augmentation ("eh"): not emitted by any current compiler
  }
  if (!r.ok) return false;
  c->insns = r.p;
  c->end = r.end;
  return true;
}

void set_rule(Row& s, std::uint64_t reg, RegRule rule, std::int64_t off = 0) {
  if (reg == kRbp) {
    s.rbp = rule;
    s.rbp_off = off;
  } else if (reg == kRa) {
    s.ra = rule;
    s.ra_off = off;
  }
}

// DW_CFA_restore: the register's rule as the CIE's initial instructions left it.
void restore_rule(Row& s, std::uint64_t reg, const Row& initial) {
  if (reg == kRbp) set_rule(s, reg, initial.rbp, initial.rbp_off);
  if (reg == kRa) set_rule(s, reg, initial.ra, initial.ra_off);
}

// Runs call-frame instructions from `loc` while the row's location is at or
// before `target`.  Returns false on an instruction it cannot read.
bool run_cfa(Reader r, std::uint64_t loc, std::uint64_t target, const Cie& c, const Row& initial, Row& s) {
  constexpr int kStack = 16;
  Row saved[kStack];
  int depth = 0;
  auto advance = [&](std::uint64_t delta) {
    loc += delta * c.caf;
    return loc <= target;
  };
  while (r.more()) {
    const std::uint8_t op = r.u8();
    const std::uint8_t low = op & 0x3f;
    switch (op & 0xc0) {
      case 0x40:  // DW_CFA_advance_loc
        if (!advance(low)) return true;
        continue;
      case 0x80:  // DW_CFA_offset
        set_rule(s, low, kOffset, static_cast<std::int64_t>(r.uleb()) * c.daf);
        continue;
      case 0xc0:  // DW_CFA_restore
        restore_rule(s, low, initial);
        continue;
      default: break;
    }
    switch (op) {
      case 0x00: break;  // nop
      case 0x01: {       // set_loc
        bool decoded;
        const std::uint64_t to = r.encoded(c.fde_enc, &decoded);
        if (!decoded) return false;
        if (to > target) return true;
        loc = to;
        break;
      }
      case 0x02:
        if (!advance(r.u8())) return true;
        break;
      case 0x03:
        if (!advance(r.fixed<std::uint16_t>())) return true;
        break;
      case 0x04:
        if (!advance(r.fixed<std::uint32_t>())) return true;
        break;
      case 0x05: {  // offset_extended
        const std::uint64_t reg = r.uleb();
        set_rule(s, reg, kOffset, static_cast<std::int64_t>(r.uleb()) * c.daf);
        break;
      }
      case 0x06: {  // restore_extended
        restore_rule(s, r.uleb(), initial);
        break;
      }
      case 0x07: set_rule(s, r.uleb(), kUndefined); break;
      case 0x08: set_rule(s, r.uleb(), kSame); break;
      case 0x09: {  // register
        const std::uint64_t reg = r.uleb();
        r.uleb();
        set_rule(s, reg, kOther);
        break;
      }
      case 0x0a:  // remember_state (the CFA too, as GCC's and LLVM's unwinders do)
        if (depth == kStack) return false;
        saved[depth++] = s;
        break;
      case 0x0b:
        if (depth == 0) return false;
        s = saved[--depth];
        break;
      case 0x0c:  // def_cfa
        s.cfa_reg = static_cast<int>(r.uleb());
        s.cfa_off = static_cast<std::int64_t>(r.uleb());
        s.cfa_expr = false;
        break;
      case 0x0d:
        s.cfa_reg = static_cast<int>(r.uleb());
        s.cfa_expr = false;
        break;
      case 0x0e: s.cfa_off = static_cast<std::int64_t>(r.uleb()); break;
      case 0x0f:  // def_cfa_expression
        r.skip(r.uleb());
        s.cfa_expr = true;
        break;
      case 0x10:    // expression
      case 0x16: {  // val_expression
        const std::uint64_t reg = r.uleb();
        r.skip(r.uleb());
        set_rule(s, reg, kOther);
        break;
      }
      case 0x11: {  // offset_extended_sf
        const std::uint64_t reg = r.uleb();
        set_rule(s, reg, kOffset, r.sleb() * c.daf);
        break;
      }
      case 0x12:  // def_cfa_sf
        s.cfa_reg = static_cast<int>(r.uleb());
        s.cfa_off = r.sleb() * c.daf;
        s.cfa_expr = false;
        break;
      case 0x13: s.cfa_off = r.sleb() * c.daf; break;
      case 0x14:  // val_offset
      case 0x15: {
        const std::uint64_t reg = r.uleb();
        if (op == 0x14)
          r.uleb();
        else
          r.sleb();
        set_rule(s, reg, kOther);
        break;
      }
      case 0x2e: r.uleb(); break;  // GNU_args_size
      case 0x2f: {                 // GNU_negative_offset_extended
        const std::uint64_t reg = r.uleb();
        set_rule(s, reg, kOffset, -static_cast<std::int64_t>(r.uleb()) * c.daf);
        break;
      }
      default: return false;
    }
  }
  return r.ok;
}

// The rule at code address `pc` (for a return address, the address of the
// call: return address - 1).
Rule compute_rule(std::uintptr_t pc) {
  Rule out;
  out.kind = kCannot;
  dwarf_eh_bases bases{};
  const auto* fde = static_cast<const std::uint8_t*>(_Unwind_Find_FDE(reinterpret_cast<void*>(pc), &bases));
  if (!fde) return out;
  std::uint32_t len32, cie_delta;
  std::memcpy(&len32, fde, 4);
  std::memcpy(&cie_delta, fde + 4, 4);
  if (len32 == 0 || len32 == 0xffffffffu || cie_delta == 0) return out;
  Cie cie;
  if (!parse_cie(fde + 4 - cie_delta, &cie) || cie.signal) return out;
  Reader r{fde + 8, fde + 4 + len32};
  bool decoded;
  r.encoded(cie.fde_enc, &decoded);         // pc_begin: bases.func has it
  r.encoded(cie.fde_enc & 0x0f, &decoded);  // pc_range
  if (cie.has_z) r.skip(r.uleb());
  if (!r.ok) return out;
  const auto func = reinterpret_cast<std::uint64_t>(bases.func);
  Row initial;
  Row s;
  if (!run_cfa(Reader{cie.insns, cie.end}, func, pc, cie, s, s)) return out;
  initial = s;
  if (!run_cfa(r, func, pc, cie, initial, s)) return out;
  if (s.ra == kUndefined) {
    out.kind = kEnd;
    return out;
  }
  if (s.cfa_expr || (s.cfa_reg != kRsp && s.cfa_reg != kRbp) || s.ra != kOffset || s.ra_off != -8) return out;
  if (s.cfa_off < INT32_MIN || s.cfa_off > INT32_MAX) return out;
  if (s.rbp == kOffset) {
    if (s.rbp_off == 0 || s.rbp_off < INT16_MIN || s.rbp_off > INT16_MAX) return out;
    out.rbp_off = static_cast<std::int16_t>(s.rbp_off);
  } else if (s.rbp != kSame) {
    return out;
  }
  out.cfa_off = static_cast<std::int32_t>(s.cfa_off);
  out.cfa_rbp = s.cfa_reg == kRbp;
  out.kind = kWalk;
  return out;
}

// ---------------------------------------------------------------------------
// The table: open addressing, lock-free.  An insert claims an empty slot by
// CAS with the key and a busy bit, stores the rule, then publishes the bare
// key with release; a key is never changed once published.  No lock, so a
// fork() in the middle of another thread's insert leaves the child nothing
// to wait for.  16 Ki slots (256 KiB of .bss, touched as used); past three
// quarters full, new addresses are interpreted on every walk instead of kept.

constexpr std::size_t kSlots = std::size_t{1} << 14;
constexpr std::size_t kMaxUsed = kSlots / 4 * 3;
constexpr std::uint64_t kBusy = std::uint64_t{1} << 63;  // never set in a user-space code address

struct Slot {
  std::atomic<std::uint64_t> key{0};
  std::atomic<std::uint64_t> rule{0};
};
Slot g_slots[kSlots];
std::atomic<std::size_t> g_used{0};
std::atomic<std::size_t> g_given_up{0};

inline std::size_t slot_of(std::uint64_t key) {
  return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> (64 - 14));
}
static_assert(kSlots == std::size_t{1} << 14);

// kNone when absent (or still being inserted by another thread).
inline Rule find(std::uint64_t key) {
  for (std::size_t i = slot_of(key);; i = (i + 1) & (kSlots - 1)) {
    const std::uint64_t k = g_slots[i].key.load(std::memory_order_acquire);
    if (k == key) return unpack(g_slots[i].rule.load(std::memory_order_relaxed));
    if (k == 0) return Rule{};
  }
}

[[gnu::noinline]] Rule learn(std::uint64_t key) {
  const Rule r = compute_rule(key);
  if (g_used.load(std::memory_order_relaxed) >= kMaxUsed) return r;
  for (std::size_t i = slot_of(key);;) {
    std::uint64_t k = g_slots[i].key.load(std::memory_order_acquire);
    if ((k & ~kBusy) == key) return r;  // another thread has it, or is storing it
    if (k == 0) {
      if (!g_slots[i].key.compare_exchange_strong(k, key | kBusy, std::memory_order_acquire)) continue;  // lost the slot: look again
      g_slots[i].rule.store(pack(r), std::memory_order_relaxed);
      g_slots[i].key.store(key, std::memory_order_release);
      g_used.fetch_add(1, std::memory_order_relaxed);
      return r;
    }
    i = (i + 1) & (kSlots - 1);
  }
}

inline Rule rule_at(std::uint64_t pc) {
  const Rule r = find(pc);
  return r.kind != kNone ? r : learn(pc);
}

// This thread's stack [lo, hi): a walk starts only on it (not on a fiber's
// or an alternate signal stack), and every read stays inside [sp, hi).
struct StackTop {
  std::uintptr_t lo = 0, hi = 0;
  bool known = false;
};
__attribute__((tls_model("initial-exec"))) thread_local StackTop t_stack;

[[gnu::noinline]] void find_stack_top(StackTop& t) {
  t.known = true;
  pthread_attr_t a;
  if (pthread_getattr_np(pthread_self(), &a) != 0) return;
  void* lo = nullptr;
  std::size_t size = 0;
  if (pthread_attr_getstack(&a, &lo, &size) == 0) {
    t.lo = reinterpret_cast<std::uintptr_t>(lo);
    t.hi = t.lo + size;
  }
  pthread_attr_destroy(&a);
}

inline bool readable(std::uintptr_t at, std::uintptr_t lo, std::uintptr_t hi) {
  return at >= lo && at <= hi - 8 && (at & 7) == 0;
}

}  // namespace

bool cfi_available() noexcept { return true; }

// no_sanitize: the walk reads its callers' saved registers, which
// AddressSanitizer may count as outside any object.
[[gnu::noinline, gnu::no_sanitize_address]] int cfi_backtrace(const void** out, int max) noexcept {
  std::uintptr_t pc, sp, bp;
  // The rule at `pc` describes this very instruction's rsp and rbp.
  asm volatile("leaq 0(%%rip), %0\n\tmovq %%rsp, %1\n\tmovq %%rbp, %2" : "=r"(pc), "=r"(sp), "=r"(bp));
  if (max <= 0) return 0;
  StackTop& top = t_stack;
  if (!top.known) [[unlikely]] find_stack_top(top);
  const std::uintptr_t lo = sp, hi = top.hi;
  if (sp < top.lo || sp >= hi) {
    g_given_up.fetch_add(1, std::memory_order_relaxed);
    return -1;  // not on the thread's own stack (a fiber's, an alternate signal stack; or unknown)
  }
  std::uint64_t at = pc;  // this function's own instruction; then each call
  int n = 0;
  for (;;) {
    const Rule r = rule_at(at);
    if (r.kind == kEnd) return n;
    if (r.kind != kWalk) break;
    const std::uintptr_t cfa = (r.cfa_rbp ? bp : sp) + static_cast<std::intptr_t>(r.cfa_off);
    if (cfa <= sp || !readable(cfa - 8, lo, hi)) break;
    const std::uintptr_t ra = *reinterpret_cast<const std::uintptr_t*>(cfa - 8);
    if (r.rbp_off != 0) {
      const std::uintptr_t slot = cfa + static_cast<std::intptr_t>(r.rbp_off);
      if (!readable(slot, lo, hi)) break;
      bp = *reinterpret_cast<const std::uintptr_t*>(slot);
    }
    sp = cfa;
    if (ra == 0) return n;  // a zeroed return address ends some hand-made stacks
    out[n++] = reinterpret_cast<const void*>(ra);
    if (n == max) return n;
    at = ra - 1;  // inside the call instruction, even when the call ends its function
  }
  g_given_up.fetch_add(1, std::memory_order_relaxed);
  return -1;
}

std::size_t cfi_rules_cached() noexcept { return g_used.load(std::memory_order_relaxed); }
std::size_t cfi_walks_given_up() noexcept { return g_given_up.load(std::memory_order_relaxed); }

#else  // not x86-64 Linux: the other unwinders only

bool cfi_available() noexcept { return false; }
int cfi_backtrace(const void**, int) noexcept { return -1; }
std::size_t cfi_rules_cached() noexcept { return 0; }
std::size_t cfi_walks_given_up() noexcept { return 0; }

#endif

}  // namespace ctxscope::trace::detail
