#include <stdio.h>

#include "aosctl.h"

int main(int argc, char **argv)
{
    return aosctl_main(argc, argv, stdout, stderr);
}
