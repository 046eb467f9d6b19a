from one.cli import main

main()
