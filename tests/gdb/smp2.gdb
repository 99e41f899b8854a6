# Two vcpus (tests/gdb/guest-smp): the AP as thread 2, a breakpoint it
# hits, both threads' registers, stepi and reverse-stepi on it, a
# watchpoint it triggers and reverse-continue to its last write.
set pagination off
set confirm off
target remote 127.0.0.1:@PORT@
break *0x9000
continue
p/x $cs
p/x $rip
delete
break *0x9200
continue
info threads
info registers rip rcx
thread 1
info registers rip
p/x $fctrl
thread 2
x/wx 0xa000
stepi
info registers rip
x/wx 0xa000
reverse-stepi
info registers rip
x/wx 0xa000
delete
watch *(int*)0xa000
continue
continue
reverse-continue
info registers rip rcx
monitor vmcs 1
detach
