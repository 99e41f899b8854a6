# Hardware breakpoints, read and access watchpoints (tests/gdb/guest), and
# monitor commands' replies to bad arguments.
set pagination off
set confirm off
target remote 127.0.0.1:@PORT@
hbreak *0x8207
continue
info registers rip
delete
rwatch *(int*)0x9000
continue
info registers rip
delete
awatch *(int*)0x9000
continue
continue
reverse-continue
info registers rip rcx
monitor trace 0
monitor vmcs 7
monitor phys
monitor bogus
kill
