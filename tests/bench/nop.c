/* The small static binary the exec storm (W2) executes: exits at once. */
int main(void)
{
	return 0;
}
