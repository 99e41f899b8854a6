#include "xen/xen_domain.hpp"

#include "public/compat.hpp"

#include "core/domain.hpp"
#include "core/vcpu.hpp"
#include "devices/apic_message.hpp"
#include "hal/memory.hpp"
#include "mm/heap.hpp"
#include "public/hvm.hpp"
#include "public/vcpu.hpp"
#include "xen/guest_access.hpp"
#include "xen/pvclock.hpp"
#include "xen/xenstore.hpp"

namespace xeno::xen {

namespace {

constexpr usize kStoreArenaBytes = 64 * 1024;

// The shared structures live in guest RAM that the guest may change at any
// moment from another vcpu: the hypervisor updates them with locked
// operations, as Xen does.
bool test_and_set(u64* word, u64 bit) { return (__atomic_fetch_or(word, bit, __ATOMIC_SEQ_CST) & bit) != 0; }
bool test(const u64* word, u64 bit) { return (__atomic_load_n(word, __ATOMIC_SEQ_CST) & bit) != 0; }
bool test_and_clear(u64* word, u64 bit) { return (__atomic_fetch_and(word, ~bit, __ATOMIC_SEQ_CST) & bit) != 0; }

}  // namespace

// The area is a guest-linear address of the vcpu it describes, translated
// through that vcpu's page tables: its VMCS must be current, as it is on
// every path here (its own hypercalls, and the scheduler resuming it).
int write_runstate_area(Vcpu& v, const vcpu_runstate_info& info, u64 linear, bool compat)
{
    return XenDomain::put_runstate(v, linear, info, compat);
}

XenDomain::XenDomain(Domain& domain) : domain_(domain)
{
    for (u32 i = 0; i < 32; ++i) {
        VcpuXen& x = vcpus_[i];
        x.owner = this;
        x.id = i;
        x.runstate = runstate::running;
        x.singleshot.bind(&XenDomain::singleshot_fired, &x);
        x.periodic.bind(&XenDomain::periodic_fired, &x);
        x.poll_timer.bind(&XenDomain::poll_fired, &x);
    }
    for (u32 i = 0; i < kMaxGrantFrames; ++i) grant_gfn_[i] = kNoGfn;
    params_[hvm_param::CONSOLE_PFN] = kConsoleRingGfn;
    params_[hvm_param::CONSOLE_EVTCHN] = kConsolePort;
    params_[hvm_param::STORE_PFN] = kStoreRingGfn;
    params_[hvm_param::STORE_EVTCHN] = kStorePort;
}

XenDomain::~XenDomain()
{
    for (devices::DeviceTimer& t : watchdogs_) domain_.timers().cancel(t);
    for (VcpuXen& x : vcpus_) {
        domain_.timers().cancel(x.singleshot);
        domain_.timers().cancel(x.periodic);
        domain_.timers().cancel(x.poll_timer);
    }
    if (store_) destroy(heap(), store_);
    if (store_arena_) heap().free(store_arena_);
    if (ports_) heap().free(ports_);
}

Status XenDomain::ensure_ready()
{
    if (ports_) return Status::OK;
    if (!heap().ready()) return Status::NO_MEMORY;
    Result<void*> table = heap().allocate(sizeof(EventPort) * kMaxPorts);
    if (!table.ok()) return Status::NO_MEMORY;
    Result<void*> arena = heap().allocate(kStoreArenaBytes);
    if (!arena.ok()) {
        heap().free(table.value());
        return Status::NO_MEMORY;
    }
    ports_ = static_cast<EventPort*>(table.value());
    for (u32 i = 0; i < kMaxPorts; ++i) new (&ports_[i]) EventPort{};
    store_arena_ = arena.value();
    Result<XenStore*> store = create<XenStore>(store_arena_, kStoreArenaBytes, kDomainId);
    if (!store.ok()) return Status::NO_MEMORY;
    store_ = store.value();
    // The domain's own tree, as the toolstack writes it, with the console's
    // ring and channel (what a console frontend looks up).
    if (store_->populate_domain("xeno-guest", domain_.planned_vcpus(), domain_.mem_bytes() / 1024) != Status::OK ||
        store_->write("console/ring-ref", "254") != Status::OK /* kConsoleRingGfn */ || store_->write("console/port", "1") != Status::OK ||
        store_->write("console/type", "xenconsoled") != Status::OK)
        return Status::NO_MEMORY;
    // The console's and the store's channels, bound to their backends (the
    // hypervisor) as the toolstack leaves them for a guest.
    Result<Hpa> ring = domain_.p2m().translate(Gpa::from_frame(kStoreRingGfn));
    if (ring.ok()) {
        XenStore::init_ring(*static_cast<xenstore_domain_interface*>(hal::machine_to_virt(ring.value())));
        hal::machine_memory_written(ring.value(), kPageSize);
    }
    for (u32 p : {kConsolePort, kStorePort}) {
        ports_[p].state = static_cast<u8>(evtchnstat::interdomain);
        ports_[p].backend = true;
        ports_[p].remote_dom = 0;
        ports_[p].peer = p;
    }
    return Status::OK;
}

u64 XenDomain::system_time() const { return domain_.timers().now(); }

void XenDomain::kick(u32 vcpu) { domain_.kick(vcpu); }

// ---- shared_info, vcpu_info ----

shared_info* XenDomain::shared()
{
    if (shared_info_gfn_ == kNoGfn) return nullptr;
    Result<Hpa> h = domain_.p2m().translate(Gpa::from_frame(shared_info_gfn_));
    return h.ok() ? static_cast<shared_info*>(hal::machine_to_virt(h.value())) : nullptr;
}

vcpu_info* XenDomain::vcpu_info_of(u32 vcpu)
{
    if (vcpu >= domain_.vcpu_count() || vcpu >= 32) return nullptr;
    const VcpuXen& x = vcpus_[vcpu];
    if (x.vcpu_info_registered) {
        Result<Hpa> h = domain_.p2m().translate(Gpa{x.vcpu_info_gpa});
        return h.ok() ? static_cast<vcpu_info*>(hal::machine_to_virt(h.value())) : nullptr;
    }
    shared_info* s = shared();
    return s ? &s->vcpu_info[vcpu] : nullptr;
}

bool XenDomain::uses_frame(u64 gfn) const
{
    if (gfn == shared_info_gfn_ || gfn == kConsoleRingGfn || gfn == kStoreRingGfn) return true;
    for (u32 f = 0; f < grant_frames_; ++f)
        if (grant_gfn_[f] == gfn) return true;
    for (const VcpuXen& x : vcpus_) {
        if (x.vcpu_info_registered && (x.vcpu_info_gpa >> kPageShift == gfn ||
                                       (x.vcpu_info_gpa + sizeof(vcpu_info) - 1) >> kPageShift == gfn))
            return true;
        if (x.time_area_gpa && x.time_area_gpa >> kPageShift == gfn) return true;
    }
    return false;
}

void XenDomain::place_shared_info(u64 gfn)
{
    shared_info* old = shared();
    u64 pending[kMaxPorts / 64] = {};
    if (old) {
        for (u32 i = 0; i < kMaxPorts / 64; ++i) pending[i] = old->evtchn_pending[i];
    }
    shared_info_gfn_ = gfn;
    shared_info* s = shared();
    __builtin_memset(s, 0, kPageSize);
    for (u32 i = 0; i < kMaxPorts / 64; ++i) s->evtchn_pending[i] = pending[i] | early_pending_[i];
    for (u64& w : early_pending_) w = 0;
    // The wall clock at system time 0: the RTC's epoch (whole seconds).
    const u64 epoch = domain_.rtc_epoch();
    s->wc_version = 1;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    s->wc_sec = static_cast<u32>(epoch);
    s->wc_sec_hi = static_cast<u32>(epoch >> 32);
    s->wc_nsec = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    s->wc_version = 2;
    for (u32 v = 0; v < domain_.vcpu_count() && v < 32; ++v) update_vcpu_time(v);
    hal::machine_memory_written(domain_.p2m().translate(Gpa::from_frame(gfn)).value(), kPageSize);
    // What was marked before has its selector bits and upcalls now.
    for (u32 p = 1; p < kMaxPorts; ++p) {
        if (ports_ && test(&s->evtchn_pending[p / 64], u64{1} << (p % 64)) && ports_[p].state != 0) {
            __atomic_fetch_and(&s->evtchn_pending[p / 64], ~(u64{1} << (p % 64)), __ATOMIC_SEQ_CST);
            set_pending(p);
        }
    }
}

void XenDomain::update_vcpu_time(u32 vcpu)
{
    vcpu_info* vi = vcpu_info_of(vcpu);
    if (!vi) return;
    const PvclockScale scale = pvclock_scale(domain_.guest_tsc());
    const u64 now = system_time();
    vcpu_time_info& t = vi->time;
    const u32 version = __atomic_load_n(&t.version, __ATOMIC_SEQ_CST);
    __atomic_store_n(&t.version, (version + 1) | 1, __ATOMIC_SEQ_CST);  // odd: being written
    t.tsc_timestamp = domain_.guest_tsc().tsc_at(now);
    t.system_time = now;
    t.tsc_to_system_mul = scale.mul;
    t.tsc_shift = scale.shift;
    t.flags = pvclock::TSC_STABLE_BIT;
    __atomic_store_n(&t.version, (version + 2) & ~1u, __ATOMIC_SEQ_CST);
    // The copy the guest's vDSO reads (same contents, its own version).
    if (const u64 gpa = vcpus_[vcpu].time_area_gpa) {
        Result<Hpa> h = domain_.p2m().translate(Gpa{gpa});
        if (h.ok()) {
            auto* copy = static_cast<vcpu_time_info*>(hal::machine_to_virt(h.value()));
            __atomic_store_n(&copy->version, t.version - 1, __ATOMIC_SEQ_CST);
            copy->tsc_timestamp = t.tsc_timestamp;
            copy->system_time = t.system_time;
            copy->tsc_to_system_mul = t.tsc_to_system_mul;
            copy->tsc_shift = t.tsc_shift;
            copy->flags = t.flags;
            __atomic_store_n(&copy->version, t.version, __ATOMIC_SEQ_CST);
        }
    }
}

void XenDomain::sync_gsi_callback()
{
    // CALLBACK_IRQ as a GSI: the line follows vcpu 0's evtchn_upcall_pending
    // (level-triggered), as Xen drives it. GSI 0 means no callback.
    const u64 via = params_[hvm_param::CALLBACK_IRQ];
    const u64 gsi = callback_via_payload(via);
    const bool level = callback_via_type(via) == hvm_param_callback_type::GSI && gsi != 0 && gsi < 16 &&
                       upcall_pending(0);
    if (level == gsi_level_ && (!level || gsi == gsi_line_)) return;
    if (gsi_level_) domain_.set_isa_irq(gsi_line_, false);
    gsi_level_ = level;
    gsi_line_ = static_cast<u32>(gsi);
    if (level) domain_.set_isa_irq(gsi_line_, true);
}

bool XenDomain::upcall_pending(u32 vcpu)
{
    vcpu_info* vi = vcpu_info_of(vcpu);
    return vi && __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST) != 0;
}

int XenDomain::callback_vector(u32 vcpu)
{
    const u64 via = params_[hvm_param::CALLBACK_IRQ];
    if (callback_via_type(via) != hvm_param_callback_type::VECTOR) return -1;
    if (vcpu < 32 && vcpus_[vcpu].upcall_vector) return -1;  // its upcall goes through the local APIC
    return upcall_pending(vcpu) ? static_cast<int>(via & 0xff) : -1;
}

bool XenDomain::wakeup_pending(u32 vcpu)
{
    if (!ready() || vcpu >= 32) return false;
    VcpuXen& x = vcpus_[vcpu];
    if (x.resumed) return true;
    if (x.polling) {
        if (x.poll_timed_out) return true;
        for (u32 i = 0; i < x.poll_count; ++i)
            if (port_pending(x.poll_ports[i])) return true;
        return false;
    }
    return x.blocked && upcall_pending(vcpu);
}

void XenDomain::set_runstate(u32 vcpu, i32 state)
{
    if (vcpu >= 32) return;
    VcpuXen& x = vcpus_[vcpu];
    const u64 now = system_time();
    x.runstate_time[x.runstate & 3] += now - x.runstate_entry;
    x.runstate = state;
    x.runstate_entry = now;
    if (x.runstate_gla) (void)write_runstate_area(domain_.vcpu(vcpu), runstate_of(vcpu), x.runstate_gla, x.runstate_compat);
}

int XenDomain::put_runstate(Vcpu& v, u64 linear, const vcpu_runstate_info& info, bool compat)
{
    if (!compat) return put_guest(v, linear, info);
    compat::vcpu_runstate_info c{};
    c.state = info.state;
    c.state_entry_time = info.state_entry_time;
    for (u32 i = 0; i < 4; ++i) c.time[i] = info.time[i];
    return put_guest(v, linear, c);
}

vcpu_runstate_info XenDomain::runstate_of(u32 vcpu)
{
    const VcpuXen& x = vcpus_[vcpu];
    vcpu_runstate_info info{};
    info.state = x.runstate;
    info.state_entry_time = x.runstate_entry;
    for (u32 i = 0; i < 4; ++i) info.time[i] = x.runstate_time[i];
    // The current state's time runs until now.
    info.time[x.runstate & 3] += system_time() - x.runstate_entry;
    return info;
}

void XenDomain::vcpu_resumed(u32 vcpu)
{
    if (vcpu >= 32) return;
    VcpuXen& x = vcpus_[vcpu];
    if (x.polling) domain_.timers().cancel(x.poll_timer);
    const bool slept = x.blocked || x.polling || x.resumed;
    x.blocked = false;
    x.polling = false;
    x.poll_timed_out = false;
    x.resumed = false;
    if (slept) set_runstate(vcpu, runstate::running);
}

i64 XenDomain::watchdog(u32 id, u32 timeout_s)
{
    const u64 deadline = system_time() + u64{timeout_s} * 1'000'000'000;
    if (id == 0) {
        if (timeout_s == 0) return -err::XEN_EINVAL;
        for (u32 i = 0; i < kWatchdogs; ++i) {
            if (watchdog_used_[i]) continue;
            watchdog_used_[i] = true;
            watchdogs_[i].bind(&XenDomain::watchdog_fired, this);
            domain_.timers().arm(watchdogs_[i], deadline);
            return i + 1;
        }
        return -err::XEN_ENOSPC;
    }
    if (id > kWatchdogs || !watchdog_used_[id - 1]) return -err::XEN_EINVAL;
    if (timeout_s == 0) {
        watchdog_used_[id - 1] = false;
        domain_.timers().cancel(watchdogs_[id - 1]);
        return 0;
    }
    domain_.timers().arm(watchdogs_[id - 1], deadline);
    return 0;
}

void XenDomain::watchdog_fired(void* context, u64)
{
    XenDomain& xd = *static_cast<XenDomain*>(context);
    xd.domain_.end(DomainEnd::CRASHED, kGuestCrashStatus, "xen watchdog expired (SCHEDOP_watchdog)");
}

// ---- event channels ----

bool XenDomain::port_pending(u32 p)
{
    if (!ready() || p == 0 || p >= kMaxPorts) return false;
    const u64 bit = u64{1} << (p % 64);
    shared_info* s = shared();
    return s ? test(&s->evtchn_pending[p / 64], bit) : (early_pending_[p / 64] & bit) != 0;
}

void XenDomain::mark_vcpu_events(u32 vcpu)
{
    vcpu_info* vi = vcpu_info_of(vcpu);
    if (!vi) return;
    if (__atomic_exchange_n(&vi->evtchn_upcall_pending, u8{1}, __ATOMIC_SEQ_CST)) return;
    VcpuXen& x = vcpus_[vcpu];
    if (x.upcall_vector) {
        // HVMOP_set_evtchn_upcall_vector: an edge-triggered fixed interrupt
        // in the vcpu's local APIC, which the guest EOIs.
        devices::ApicMessage m;
        m.vector = x.upcall_vector;
        domain_.vcpu(vcpu).lapic().accept(m);
        return;
    }
    if (vcpu == 0) sync_gsi_callback();
    kick(vcpu);  // the vector callback is injected before its next entry
}

void XenDomain::set_pending(u32 p)
{
    EventPort* e = port(p);
    if (!e) return;
    const u64 bit = u64{1} << (p % 64);
    shared_info* s = shared();
    if (!s) {
        early_pending_[p / 64] |= bit;
    } else if (!test_and_set(&s->evtchn_pending[p / 64], bit) && !test(&s->evtchn_mask[p / 64], bit)) {
        vcpu_info* vi = vcpu_info_of(e->vcpu);
        if (vi && !test_and_set(&vi->evtchn_pending_sel, u64{1} << (p / 64))) mark_vcpu_events(e->vcpu);
    }
    // SCHEDOP_poll waits on pending bits whatever the mask says.
    for (u32 v = 0; v < domain_.vcpu_count() && v < 32; ++v)
        if (vcpus_[v].polling) kick(v);
}

void XenDomain::unmask(u32 p)
{
    shared_info* s = shared();
    EventPort* e = port(p);
    if (!s || !e) return;
    const u64 bit = u64{1} << (p % 64);
    if (test_and_clear(&s->evtchn_mask[p / 64], bit) && test(&s->evtchn_pending[p / 64], bit)) {
        vcpu_info* vi = vcpu_info_of(e->vcpu);
        if (vi && !test_and_set(&vi->evtchn_pending_sel, u64{1} << (p / 64))) mark_vcpu_events(e->vcpu);
    }
}

void XenDomain::send_virq(u32 vcpu, u32 virq)
{
    if (!ready() || vcpu >= 32 || virq >= kVirqCount) return;
    const u32 p = vcpus_[vcpu].virq_port[virq];
    if (p) set_pending(p);
}

Result<u32> XenDomain::allocate_port()
{
    if (!ready()) return Status::NO_MEMORY;
    for (u32 p = 1; p < kMaxPorts; ++p) {
        if (ports_[p].state == evtchnstat::closed) return p;
    }
    return Status::NOT_FOUND;
}

void XenDomain::close_port(u32 p)
{
    EventPort* e = port(p);
    if (!e) return;
    if (e->state == evtchnstat::virq && e->vcpu < 32 && vcpus_[e->vcpu].virq_port[e->virq] == p)
        vcpus_[e->vcpu].virq_port[e->virq] = 0;
    if (e->state == evtchnstat::interdomain && !e->backend) {
        // The peer goes back to unbound, waiting for this domain again.
        EventPort* peer = port(e->peer);
        if (peer && peer != e && peer->state == evtchnstat::interdomain) {
            peer->state = static_cast<u8>(evtchnstat::unbound);
            peer->remote_dom = kDomainId;
            peer->peer = 0;
        }
    }
    *e = EventPort{};
    // A closed port's pending bit goes (a new binding must not inherit it).
    const u64 bit = u64{1} << (p % 64);
    if (shared_info* s = shared()) __atomic_fetch_and(&s->evtchn_pending[p / 64], ~bit, __ATOMIC_SEQ_CST);
    early_pending_[p / 64] &= ~bit;
}

int XenDomain::send(u32 p)
{
    EventPort* e = port(p);
    if (!e || e->state == evtchnstat::closed) return -err::XEN_EINVAL;
    switch (e->state) {
    case evtchnstat::interdomain:
        if (e->backend) {
            if (p == kConsolePort) service_console();
            if (p == kStorePort) service_store();
        } else {
            set_pending(e->peer);
        }
        return 0;
    case evtchnstat::ipi:
        set_pending(p);
        return 0;
    case evtchnstat::unbound:
        return 0;  // nobody listens yet: dropped, as Xen does
    default:
        return -err::XEN_EINVAL;  // a VIRQ is the hypervisor's to raise
    }
}

// ---- timers ----

void XenDomain::singleshot_fired(void* context, u64)
{
    VcpuXen& x = *static_cast<VcpuXen*>(context);
    x.owner->send_virq(x.id, virq::VIRQ_TIMER);
}

void XenDomain::periodic_fired(void* context, u64 now)
{
    VcpuXen& x = *static_cast<VcpuXen*>(context);
    if (x.period_ns) x.owner->domain_.timers().arm(x.periodic, now + x.period_ns);
    x.owner->send_virq(x.id, virq::VIRQ_TIMER);
}

void XenDomain::poll_fired(void* context, u64)
{
    VcpuXen& x = *static_cast<VcpuXen*>(context);
    x.poll_timed_out = true;
    x.owner->kick(x.id);
}

}  // namespace xeno::xen
