#include <cstdio>

int main()
{
    std::puts("xeno: under construction");
    return 2;
}
