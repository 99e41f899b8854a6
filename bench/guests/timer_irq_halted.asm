; timer_irq_halted: a periodic PIT interrupt at 10 kHz, the guest waiting in HLT (timer_irq.inc).
%define HALTED
%include "platform.inc"
%include "timer_irq.inc"
