# One vcpu (tests/gdb/guest): break, continue, registers, memory, stepi,
# reverse-stepi, watch and reverse-continue, monitor commands, kill.
set pagination off
set confirm off
target remote 127.0.0.1:@PORT@
info registers rip
break *0x8200
continue
info registers rax rcx
x/5xb 0x8100
stepi
info registers rip
x/wx 0x9000
reverse-stepi
info registers rip
x/wx 0x9000
stepi
stepi
info registers rip rax
reverse-stepi
reverse-stepi
info registers rip rax
delete
watch *(int*)0x9000
continue
continue
continue
reverse-continue
info registers rip rcx
x/wx 0x9000
p/x $cr0
p/x $fctrl
monitor phys 0x9000 4
monitor vtime
monitor exits
monitor vmcs
info threads
kill
