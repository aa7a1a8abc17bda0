from syncstorage.cli import main

main()
