; timer_irq: a periodic PIT interrupt at 199 kHz under a busy guest (timer_irq.inc).
%include "platform.inc"
%include "timer_irq.inc"
