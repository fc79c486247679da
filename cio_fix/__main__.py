from cio_fix.cli import main

main()
