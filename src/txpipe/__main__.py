from txpipe.cli import main

main()
