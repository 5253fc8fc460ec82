from mailguard.cli import main

main()
